// Package netguard says which addresses Vane may send a webhook to: none in the special-purpose
// ranges of the IANA IPv4 and IPv6 registries (loopback, private, shared, link-local, documentation,
// benchmarking, NAT64, multicast, reserved …). Webhook creation and the dialer use this one list, so
// a URL accepted when it was saved is judged by the same rule when it is sent.
package netguard

import (
	"fmt"
	"net/netip"
)

// Range is a special-purpose range and what it is for.
type Range struct {
	Prefix netip.Prefix
	Name   string
}

func r(prefix, name string) Range { return Range{netip.MustParsePrefix(prefix), name} }

// Reserved is every range a webhook may not reach. IPv4-mapped IPv6 addresses (::ffff:0:0/96) are
// judged by the IPv4 address they carry, and so are 6to4 addresses (2002::/16).
var Reserved = []Range{
	r("0.0.0.0/8", "this network"),
	r("10.0.0.0/8", "private network"),
	r("100.64.0.0/10", "shared address space, carrier-grade NAT"),
	r("127.0.0.0/8", "loopback"),
	r("169.254.0.0/16", "link-local"),
	r("172.16.0.0/12", "private network"),
	r("192.0.0.0/24", "IETF protocol assignments"),
	r("192.0.2.0/24", "documentation, TEST-NET-1"),
	r("192.88.99.0/24", "6to4 relay anycast"),
	r("192.168.0.0/16", "private network"),
	r("198.18.0.0/15", "benchmarking"),
	r("198.51.100.0/24", "documentation, TEST-NET-2"),
	r("203.0.113.0/24", "documentation, TEST-NET-3"),
	r("224.0.0.0/4", "multicast"),
	r("255.255.255.255/32", "limited broadcast"), // before 240/4, which holds it, to be named for what it is
	r("240.0.0.0/4", "reserved"),
	r("::/128", "unspecified"),
	r("::1/128", "loopback"),
	r("64:ff9b::/96", "NAT64, IPv4-IPv6 translation"),
	r("64:ff9b:1::/48", "local-use NAT64"),
	r("100::/64", "discard-only"),
	r("2001::/23", "IETF protocol assignments"),
	r("2001:db8::/32", "documentation"),
	r("fc00::/7", "unique local, private network"),
	r("fe80::/10", "link-local"),
	r("ff00::/8", "multicast"),
}

var sixToFour = netip.MustParsePrefix("2002::/16")

// Error says which reserved range an address is in.
type Error struct {
	Addr     netip.Addr
	Range    Range
	Carries  netip.Addr // the IPv4 address an IPv4-mapped or 6to4 address carries, when that is the reserved one
	Carriage string     // "IPv4-mapped" or "6to4"
}

func (e *Error) Error() string {
	if e.Carriage != "" {
		return fmt.Sprintf("%s carries %s (%s), in %s (%s), a reserved range", e.Addr, e.Carries, e.Carriage, e.Range.Prefix, e.Range.Name)
	}
	return fmt.Sprintf("%s is in %s (%s), a reserved range", e.Addr, e.Range.Prefix, e.Range.Name)
}

// Check returns an *Error when addr is in a reserved range (or carries an IPv4 address that is),
// nil when it is a public address a webhook may reach.
func Check(addr netip.Addr) error {
	addr = addr.WithZone("")
	if !addr.IsValid() {
		return &Error{Addr: addr, Range: Range{Name: "not an address"}}
	}
	judged, carriage := addr, ""
	switch {
	case addr.Is4In6():
		judged, carriage = addr.Unmap(), "IPv4-mapped"
	case sixToFour.Contains(addr):
		b := addr.As16()
		judged, carriage = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), "6to4"
	}
	for _, rg := range Reserved {
		if rg.Prefix.Contains(judged) {
			e := &Error{Addr: addr, Range: rg}
			if carriage != "" {
				e.Carries, e.Carriage = judged, carriage
			}
			return e
		}
	}
	return nil
}
