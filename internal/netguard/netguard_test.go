package netguard_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vanehq/vane/internal/netguard"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr    string
		inRange string // the reserved prefix it falls in; "" means public
	}{
		{"0.1.2.3", "0.0.0.0/8"},
		{"10.20.30.40", "10.0.0.0/8"},
		{"100.64.0.1", "100.64.0.0/10"},
		{"100.127.255.254", "100.64.0.0/10"},
		{"127.0.0.1", "127.0.0.0/8"},
		{"169.254.169.254", "169.254.0.0/16"}, // cloud metadata
		{"172.31.255.1", "172.16.0.0/12"},
		{"192.0.0.8", "192.0.0.0/24"},
		{"192.0.2.10", "192.0.2.0/24"},
		{"192.88.99.1", "192.88.99.0/24"},
		{"192.168.1.1", "192.168.0.0/16"},
		{"198.18.0.1", "198.18.0.0/15"},
		{"198.19.255.255", "198.18.0.0/15"},
		{"198.51.100.7", "198.51.100.0/24"},
		{"203.0.113.9", "203.0.113.0/24"},
		{"224.0.0.251", "224.0.0.0/4"},
		{"239.255.255.250", "224.0.0.0/4"},
		{"240.0.0.1", "240.0.0.0/4"},
		{"255.255.255.255", "255.255.255.255/32"},
		{"::", "::/128"},
		{"::1", "::1/128"},
		{"::ffff:127.0.0.1", "127.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.0/8"},
		{"64:ff9b::8.8.8.8", "64:ff9b::/96"},
		{"64:ff9b:1::1", "64:ff9b:1::/48"},
		{"100::1", "100::/64"},
		{"2001::1", "2001::/23"},         // Teredo
		{"2001:db8::1", "2001:db8::/32"}, // documentation
		{"2002:7f00:1::", "127.0.0.0/8"}, // 6to4 carrying 127.0.0.1
		{"2002:a9fe:a9fe::1", "169.254.0.0/16"},
		{"fc00::1", "fc00::/7"},
		{"fd12:3456::1", "fc00::/7"},
		{"fe80::1%eth0", "fe80::/10"},
		{"ff02::1", "ff00::/8"},
		// Public addresses just outside the ranges, and ordinary ones.
		{"8.8.8.8", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.32.0.1", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"223.255.255.255", ""},
		{"::ffff:8.8.8.8", ""},
		{"2002:808:808::1", ""}, // 6to4 carrying 8.8.8.8
		{"2606:4700:4700::1111", ""},
		{"2001:200::1", ""}, // just past 2001::/23
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			err := netguard.Check(netip.MustParseAddr(tc.addr))
			var ge *netguard.Error
			switch {
			case tc.inRange == "" && err != nil:
				t.Errorf("Check(%s) = %v, want nil (public)", tc.addr, err)
			case tc.inRange != "" && !errors.As(err, &ge):
				t.Errorf("Check(%s) = %v, want a reserved-range error in %s", tc.addr, err, tc.inRange)
			case tc.inRange != "" && ge.Range.Prefix.String() != tc.inRange:
				t.Errorf("Check(%s) range = %s, want %s (%v)", tc.addr, ge.Range.Prefix, tc.inRange, err)
			}
		})
	}
}

func TestCheckMessageNamesTheCarriedAddress(t *testing.T) {
	t.Parallel()
	err := netguard.Check(netip.MustParseAddr("2002:7f00:1::"))
	want := "2002:7f00:1:: carries 127.0.0.1 (6to4), in 127.0.0.0/8 (loopback), a reserved range"
	if err == nil || err.Error() != want {
		t.Errorf("Check(2002:7f00:1::) = %v, want %q", err, want)
	}
}
