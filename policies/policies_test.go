package policies

import "testing"

func TestRoleMatrix(t *testing.T) {
	en, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if !en.domainFree {
		t.Error("the shipped policy names a specific organisation; it should be role-only")
	}
	cases := []struct {
		sub  string
		res  Resource
		act  Action
		want bool
	}{
		{"VIEWER", Projects, Read, true},
		{"VIEWER", Projects, Write, false},
		{"VIEWER", SDKKeys, ReadClient, false},
		{"DEVELOPER", SDKKeys, ReadClient, true},
		{"DEVELOPER", SDKKeys, ReadServer, false},
		{"DEVELOPER", Members, Write, false},
		{"DEVELOPER", Audit, Read, false},
		{"ADMIN", SDKKeys, ReadServer, true},
		{"ADMIN", Audit, Read, true},
		{"ADMIN", Members, Write, true},
		{ScopeSubject("read"), Environments, Read, true},
		{ScopeSubject("read"), Environments, Write, false},
		{ScopeSubject("write"), APIKeys, Write, false},
		{ScopeSubject("admin"), APIKeys, Write, true},
		{"OWNER", Projects, Read, false},
		{"", Projects, Read, false},
	}
	for _, tc := range cases {
		for i := 0; i < 2; i++ { // the second time comes from the memo
			if got := en.Allow("org-1", []string{tc.sub}, tc.res, tc.act); got != tc.want {
				t.Errorf("Allow(%s, %s, %s) pass %d = %v, want %v", tc.sub, tc.res, tc.act, i, got, tc.want)
			}
		}
	}
	if !en.Allow("org-1", []string{ScopeSubject("read"), ScopeSubject("admin")}, Members, Write) {
		t.Error("a key with read and admin scopes may not manage members")
	}
}

func BenchmarkAllow(b *testing.B) {
	en, _ := New()
	subjects := []string{"DEVELOPER"}
	for i := 0; i < b.N; i++ {
		en.Allow("org-1", subjects, Projects, Read)
	}
}
