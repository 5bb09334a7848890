package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/sqlstore"
)

// storeMigrated is what `admin migrate-store --json` prints.
type storeMigrated struct {
	From    string        `json:"from"`
	To      string        `json:"to"`
	Tables  []tableCopied `json:"tables"`
	Rows    int64         `json:"rows"`
	Seconds float64       `json:"seconds"`
}

type tableCopied struct {
	Table   string  `json:"table"`
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

const (
	fromUsage = "sqlite:PATH, the data directory of the installation to move (or the " + server.DBFile + " in it), e.g. --from sqlite:/var/lib/slipway"
	toUsage   = "a postgres:// URL of an empty database, postgres://USER:PASSWORD@HOST:PORT/DB"
)

func newAdminMigrateStoreCmd(e *env) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate-store --from sqlite:DATA_DIR --to postgres://USER:PASSWORD@HOST:PORT/DB",
		Short: "Move an installation's state from its SQLite database to PostgreSQL",
		Long: `Move the state of an installation that runs on SQLite (<data>/` + server.DBFile + `) to a
PostgreSQL database, for a team outgrowing one machine: configs, deployments
with their steps and events, builds, live components, envvars, tokens,
credentials and settings, in one transaction. The copy is verified (every
table has as many rows on both sides) before it commits; on any failure
the destination is left as it was. The SQLite database is kept (its schema
brought up to date first, as a server starting on it would).

It refuses to run while a server uses the data directory (stop it first),
while a deployment is unfinished (its queued jobs are not moved: let it
finish or cancel it), and when the destination already holds Slipway data
(it never merges or overwrites).

  slipway admin migrate-store --from sqlite:/var/lib/slipway --to postgres://slipway:PASSWORD@db:5432/slipway
  slipway server --data /var/lib/slipway --database postgres://slipway:PASSWORD@db:5432/slipway

Every server on the database needs the same secret-key (the envvars and
credentials are sealed with it) and admin-token: copy both from the data
directory to each server's.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := migrateSource(from)
			if err != nil {
				return err
			}
			if err := checkMigrateDest(to); err != nil {
				return err
			}
			return e.migrateStore(cmd.Context(), dir, to)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "`sqlite:PATH` of the installation to move: its data directory (or the "+server.DBFile+" in it)")
	cmd.Flags().StringVar(&to, "to", "", "`URL` of the empty PostgreSQL database to move it to, postgres://USER:PASSWORD@HOST:PORT/DB")
	return cmd
}

// migrateSource returns the data directory that --from names.
func migrateSource(from string) (string, error) {
	if from == "" {
		return "", &usageError{fmt.Errorf("--from is required: give %s", fromUsage)}
	}
	path, ok := strings.CutPrefix(from, "sqlite:")
	if !ok || path == "" {
		shown := from
		if strings.Contains(from, "://") {
			shown = postgres.Redact(from)
		}
		return "", &usageError{fmt.Errorf("--from %s: want %s", shown, fromUsage)}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--from %s: %w", from, err)
	}
	dir := path
	if !fi.IsDir() {
		if filepath.Base(path) != server.DBFile {
			return "", &usageError{fmt.Errorf("--from %s: a file that is not %s; want %s", from, server.DBFile, fromUsage)}
		}
		dir = filepath.Dir(path)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", fmt.Errorf("--from %s: %w", from, err)
	}
	return dir, nil
}

// checkMigrateDest says what is wrong with --to.
func checkMigrateDest(to string) error {
	if to == "" {
		return &usageError{fmt.Errorf("--to is required: give %s", toUsage)}
	}
	if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
		return &usageError{fmt.Errorf("--to %s: want %s", postgres.Redact(to), toUsage)}
	}
	return nil
}

// migrateStore moves the store of the data directory dir to the
// PostgreSQL database at to (server.MigrateStore), printing a line per
// table and what to do next, or the counts as JSON.
func (e *env) migrateStore(ctx context.Context, dir, to string) error {
	shownTo := postgres.Redact(to)
	db := filepath.Join(dir, server.DBFile)
	width := 0
	for _, t := range sqlstore.Tables() {
		width = max(width, len(t.Name))
	}
	start := time.Now()
	copied, err := server.MigrateStore(ctx, dir, to, func(c sqlstore.TableCopy) {
		if e.flags.json {
			return
		}
		if c.Table == sqlstore.Tables()[0].Name {
			// Once the checks passed: a refusal prints its error alone.
			fmt.Fprintf(e.stdout, "Moving the store of %s from SQLite (%s) to PostgreSQL (%s)\n", dir, server.DBFile, shownTo)
		}
		fmt.Fprintf(e.stdout, "[✅] %-*s  %9s %-4s  %s\n", width, c.Table, thousands(c.Rows), rowWord(c.Rows), seconds(c.Elapsed))
	})
	if errors.Is(err, sqlstore.ErrUnfinished) {
		return fmt.Errorf("move the store of %s to %s: %w. To do that, start a server on %s (cancel with: slipway --tool TOOL components deployment cancel ID), stop it once they are final, and run migrate-store again",
			dir, shownTo, err, dir)
	}
	if err != nil {
		return fmt.Errorf("move the store of %s to %s: %w", dir, shownTo, err)
	}
	elapsed := time.Since(start)

	res := storeMigrated{From: db, To: shownTo, Tables: []tableCopied{}, Seconds: elapsed.Seconds()}
	for _, c := range copied {
		res.Tables = append(res.Tables, tableCopied{Table: c.Table, Rows: c.Rows, Seconds: c.Elapsed.Seconds()})
		res.Rows += c.Rows
	}
	if e.flags.json {
		b, _ := json.MarshalIndent(res, "", "  ") // plain strings and numbers
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprintf(e.stdout, "Moved %s %s of %d tables in %s, verified: each table has as many rows in PostgreSQL as in SQLite. The SQLite database %s is kept.\n",
		thousands(res.Rows), rowWord(res.Rows), len(copied), seconds(elapsed), db)
	hint := ""
	if shownTo != to {
		hint = " (with the password in place of ***)"
	}
	fmt.Fprintln(e.stdout, "Next:")
	fmt.Fprintf(e.stdout, "  1. Start the server on the database: slipway server --data %s --database '%s'%s, or set SLIPWAY_DATABASE.\n", dir, shownTo, hint)
	fmt.Fprintf(e.stdout, "  2. Every other server on the database needs the same %s and %s: copy both from %s to its data directory before it starts.\n",
		server.SecretKeyFile, server.AdminTokenFile, dir)
	return nil
}

// thousands formats n with commas: 1,024.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rowWord is "row" or "rows".
func rowWord(n int64) string {
	if n == 1 {
		return "row"
	}
	return "rows"
}

// seconds formats a duration as 0.3s.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}
