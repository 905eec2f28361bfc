package engine

// semver is a parsed semantic version (2.0.0). A leading "v" and missing minor/patch are accepted
// ("v1", "1.2" → 1.0.0, 1.2.0); build metadata is ignored.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

func parseSemver(s string) (semver, bool) {
	var v semver
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	nums := [3]*uint64{&v.major, &v.minor, &v.patch}
	i, part := 0, 0
	for part < 3 {
		start := i
		var n uint64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n > (1<<63)/10 {
				return v, false
			}
			n = n*10 + uint64(s[i]-'0')
			i++
		}
		if i == start {
			return v, false
		}
		*nums[part] = n
		part++
		if i < len(s) && s[i] == '.' && part < 3 {
			i++
			continue
		}
		break
	}
	if i < len(s) && s[i] == '-' {
		j := i + 1
		for j < len(s) && s[j] != '+' {
			j++
		}
		v.pre = s[i+1 : j]
		if v.pre == "" {
			return v, false
		}
		i = j
	}
	if i < len(s) && s[i] == '+' {
		i = len(s)
	}
	return v, i == len(s)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare orders versions by semver precedence.
func (a semver) compare(b semver) int {
	if c := cmpUint(a.major, b.major); c != 0 {
		return c
	}
	if c := cmpUint(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmpUint(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1 // a release is greater than its pre-releases
	case b.pre == "":
		return -1
	}
	return comparePre(a.pre, b.pre)
}

// comparePre compares dot-separated pre-release identifiers: numeric ones numerically and below
// alphanumeric ones, a longer list above its prefix.
func comparePre(a, b string) int {
	for {
		ai, arest, aok := cutDot(a)
		bi, brest, bok := cutDot(b)
		if !aok && !bok {
			return 0
		}
		if !aok {
			return -1
		}
		if !bok {
			return 1
		}
		an, aNum := numeric(ai)
		bn, bNum := numeric(bi)
		switch {
		case aNum && bNum:
			if c := cmpUint(an, bn); c != 0 {
				return c
			}
		case aNum:
			return -1
		case bNum:
			return 1
		default:
			if ai < bi {
				return -1
			}
			if ai > bi {
				return 1
			}
		}
		a, b = arest, brest
	}
}

func cutDot(s string) (string, string, bool) {
	if s == "" {
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", true
}

func numeric(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' || n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n, true
}
