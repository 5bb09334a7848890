package storetest

import (
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// testDomain checks tools' custom domains, their lock, and the sealed
// certificates the proxy keeps.
func testDomain(t *testing.T, f Factory) {
	t.Parallel()

	// Ensure domains list by tool and by name, a name is stored once, and
	// a tool deletes only its own.
	t.Run("AddListDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		if got := must(s.DomainList(b.ctx, ""))(t); len(got) != 0 {
			t.Errorf("DomainList of nothing = %v", got)
		}
		a1 := slipway.Domain{Name: "www.example.org", Tool: "a", CreatedBy: "admin", CreatedAt: at(1).In(cet)}
		a2 := slipway.Domain{Name: "example.org", Tool: "a", CreatedBy: "tool-token:x", CreatedAt: at(2)}
		b1 := slipway.Domain{Name: "b.example.net", Tool: "b", CreatedAt: at(3)}
		for _, d := range []slipway.Domain{a1, a2, b1} {
			mustDo(t, s.DomainAdd(b.ctx, d))
		}
		if err := s.DomainAdd(b.ctx, slipway.Domain{Name: "example.org", Tool: "b", CreatedAt: at(4)}); err == nil {
			t.Error("DomainAdd of a name already stored: no error")
		}
		diff(t, "DomainList(a)", []slipway.Domain{a2, a1}, must(s.DomainList(b.ctx, "a"))(t))
		diff(t, "DomainList()", []slipway.Domain{b1, a2, a1}, must(s.DomainList(b.ctx, ""))(t))

		wantNotFound(t, "DomainDelete of another tool's", s.DomainDelete(b.ctx, "b", "example.org"))
		mustDo(t, s.DomainDelete(b.ctx, "a", "example.org"))
		wantNotFound(t, "DomainDelete twice", s.DomainDelete(b.ctx, "a", "example.org"))
		diff(t, "DomainList() after delete", []slipway.Domain{b1, a1}, must(s.DomainList(b.ctx, ""))(t))
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error { return tx.NamedLock(b.ctx, store.DomainsLock) }))
	})

	// Ensure certificates insert, replace, delete and are ErrNotFound when
	// missing.
	t.Run("Certificate", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.CertificateGet(b.ctx, "example.org")
		wantNotFound(t, "CertificateGet of nothing", err)
		c := store.Certificate{Name: "example.org", Sealed: "sealed-1", UpdatedAt: at(1)}
		mustDo(t, s.CertificatePut(b.ctx, c))
		c.Sealed, c.UpdatedAt = "sealed-2", at(2).In(cet)
		mustDo(t, s.CertificatePut(b.ctx, c))
		diff(t, "CertificateGet after replace", c, must(s.CertificateGet(b.ctx, "example.org"))(t))
		if err := s.CertificatePut(b.ctx, store.Certificate{Name: "x"}); err == nil {
			t.Error("CertificatePut with nothing sealed: no error")
		}
		mustDo(t, s.CertificateDelete(b.ctx, "example.org"))
		mustDo(t, s.CertificateDelete(b.ctx, "example.org"))
		_, err = s.CertificateGet(b.ctx, "example.org")
		wantNotFound(t, "CertificateGet after delete", err)
	})
}
