package slipway

import (
	"net/netip"
	"strings"
	"time"
)

// MaxDomainLength is the longest domain name (RFC 1035, without the root's
// trailing dot).
const MaxDomainLength = 253

// Domain is a custom domain name a tool's published component is served
// at, besides <tool>.<apps domain>.
type Domain struct {
	// Name is the domain name, lowercase ASCII, without a trailing dot.
	Name string
	Tool string
	// CreatedBy names the credential that added it (admin,
	// tool-token:<id>, …).
	CreatedBy string
	CreatedAt time.Time
}

// ValidateDomainName returns an EInvalid error unless s is a domain name a
// tool may claim as it is written: at least two dot-separated labels of 1-63
// lowercase ASCII letters, digits or dashes (not at a label's ends), 253
// characters at most, no trailing dot, no wildcard, not an IP address, and
// an internationalized name only in its ASCII (xn--) form. Nothing is
// rewritten: "Example.org" is refused rather than lowered, so that what is
// stored is what the user typed. field names the input in the error.
func ValidateDomainName(field, s string) error {
	bad := func(why string) error {
		return Errorf(EInvalid, "%s: %q is not a domain name a tool can claim: %s", field, s, why)
	}
	switch {
	case s == "":
		return Errorf(EInvalid, "%s: a domain name is required", field)
	case len(s) > MaxDomainLength:
		return bad("longer than 253 characters")
	case strings.HasSuffix(s, "."):
		return bad("write it without the trailing dot")
	case strings.Contains(s, "*"):
		return bad("wildcards are not claimable; claim each name")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return bad("an IP address, not a name")
	}
	for _, r := range s {
		switch {
		case r > 0x7f:
			return bad("internationalized names must be given in their ASCII (xn--, punycode) form")
		case r >= 'A' && r <= 'Z':
			return bad("write it in lowercase")
		}
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return bad("it needs at least two labels (example.org)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return bad("each label between dots is 1-63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("a label may not start or end with a dash")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return bad("labels hold letters, digits and dashes only")
			}
		}
	}
	if tld := labels[len(labels)-1]; tld[0] >= '0' && tld[0] <= '9' {
		return bad("the last label may not start with a digit")
	}
	return nil
}

// DomainUnder reports whether name is domain or a name under it
// (sub.example.org is under example.org; badexample.org is not).
func DomainUnder(name, domain string) bool {
	return name == domain || strings.HasSuffix(name, "."+domain)
}
