package storetest

import (
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// jobRun returns an ad-hoc one-off job with every field set.
func jobRun(tool, name string, n int) slipway.JobRun {
	return slipway.JobRun{
		Tool: tool, Name: name, Command: "./migrate --all", ImageName: "web", BuildKey: "key-web",
		Artifact: "/var/lib/slipway/builds/key-web", Timeout: 60, RunID: "job-" + name, CreatedAt: at(n),
	}
}

func testJobRun(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("PutGetListDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.JobRunGet(b.ctx, "tool", "nope")
		wantNotFound(t, "JobRunGet of an unknown job", err)
		diff(t, "JobRunList of nothing", []slipway.JobRun{}, must(s.JobRunList(b.ctx, "tool"))(t))

		migrate := jobRun("tool", "migrate", 1)
		migrate.CreatedAt = migrate.CreatedAt.In(cet)
		backup := jobRun("tool", "backup", 2)
		other := jobRun("other", "migrate", 3)
		bare := slipway.JobRun{Tool: "tool", Name: "bare"}
		for _, r := range []slipway.JobRun{migrate, other, backup, bare} {
			mustDo(t, s.JobRunPut(b.ctx, r))
		}
		diff(t, "JobRunGet", migrate, must(s.JobRunGet(b.ctx, "tool", "migrate"))(t))
		diff(t, "JobRunGet(bare)", bare, must(s.JobRunGet(b.ctx, "tool", "bare"))(t))
		diff(t, "JobRunList", []slipway.JobRun{backup, bare, migrate}, must(s.JobRunList(b.ctx, "tool"))(t))

		// Put replaces.
		migrate2 := jobRun("tool", "migrate", 4)
		migrate2.Command, migrate2.RunID, migrate2.Timeout = "./migrate --again", "job-migrate-2", 0
		mustDo(t, s.JobRunPut(b.ctx, migrate2))
		diff(t, "JobRunGet after replace", migrate2, must(s.JobRunGet(b.ctx, "tool", "migrate"))(t))

		mustDo(t, s.JobRunDelete(b.ctx, "tool", "migrate"))
		mustDo(t, s.JobRunDelete(b.ctx, "tool", "migrate"))
		mustDo(t, s.JobRunDelete(b.ctx, "nope", "nope"))
		_, err = s.JobRunGet(b.ctx, "tool", "migrate")
		wantNotFound(t, "JobRunGet after delete", err)
		diff(t, "JobRunList after delete", []slipway.JobRun{backup, bare}, must(s.JobRunList(b.ctx, "tool"))(t))
		diff(t, "JobRunList of the other tool", []slipway.JobRun{other}, must(s.JobRunList(b.ctx, "other"))(t))
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		r := jobRun("tool", "migrate", 1)
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error {
			if err := tx.JobRunPut(b.ctx, r); err != nil {
				return err
			}
			got, err := tx.JobRunGet(b.ctx, "tool", "migrate")
			if err != nil {
				return err
			}
			diff(t, "JobRunGet in the transaction", r, got)
			return nil
		}))
		diff(t, "JobRunList after commit", []slipway.JobRun{r}, must(s.JobRunList(b.ctx, "tool"))(t))
	})
}
