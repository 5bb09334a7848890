package cli

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/auth"
)

func newAdminCertCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Issue client certificates (Toolforge style: the CN names the tool)",
		Long: `Issue client certificates signed by the server's certificate authority, which
lives in the data directory (<data>/ca; made on first use). A server started
with --tls accepts them: a certificate acts for the tool its CN names, on that
tool's routes only, as a tool's API token does.

  slipway admin cert issue --tool mytool --out ~/.slipway
  slipway --cert ~/.slipway/mytool.crt --key ~/.slipway/mytool.key --ca ~/.slipway/ca.crt \
      --url https://host:8700 --tool mytool components deployment list
  curl --cert mytool.crt --key mytool.key --cacert ca.crt https://host:8700/components/v1/tool/mytool/deployment

These commands work on the data directory directly, so they run on the
server's machine as a user who can read <data>/ca/ca.key. There is no
revocation list: a certificate is valid until it expires.`,
	}
	cmd.AddCommand(newAdminCertIssueCmd(e))
	return cmd
}

// certIssued is what `admin cert issue --json` prints.
type certIssued struct {
	Tool      string    `json:"tool"`
	Cert      string    `json:"cert"`
	Key       string    `json:"key"`
	CA        string    `json:"ca"`
	Serial    string    `json:"serial"`
	ExpiresAt time.Time `json:"expires_at"`
}

func newAdminCertIssueCmd(e *env) *cobra.Command {
	var (
		out   string
		days  int
		force bool
	)
	cmd := &cobra.Command{
		Use:   "issue --tool TOOL [--out DIR]",
		Short: "Issue a client certificate for a tool: DIR/TOOL.crt, DIR/TOOL.key and DIR/ca.crt",
		Args:  args(cobra.NoArgs),
		RunE: func(_ *cobra.Command, _ []string) error {
			tool, err := e.toolName()
			if err != nil {
				return err
			}
			if days < 1 {
				return &usageError{fmt.Errorf("--days: want at least 1, got %d", days)}
			}
			dir, err := e.dataDir()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil { // the server's data directory: 0700, as the server makes it
				return fmt.Errorf("data directory: %w", err)
			}
			ca, err := auth.LoadOrCreateCA(dir)
			if err != nil {
				return err
			}
			certPEM, keyPEM, err := ca.IssueClient(tool, time.Duration(days)*24*time.Hour)
			if err != nil {
				return err
			}
			res := certIssued{
				Tool: tool,
				Cert: filepath.Join(out, tool+".crt"),
				Key:  filepath.Join(out, tool+".key"),
				CA:   filepath.Join(out, "ca.crt"),
			}
			if err := writeCertFiles(res, certPEM, keyPEM, ca.CertPEM, force); err != nil {
				return err
			}
			block, _ := pem.Decode(certPEM)
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return err
			}
			res.Serial, res.ExpiresAt = cert.SerialNumber.Text(16), cert.NotAfter.UTC()
			if e.flags.json {
				b, _ := json.MarshalIndent(res, "", "  ")
				fmt.Fprintln(e.stdout, string(b))
				return nil
			}
			fmt.Fprintf(e.stdout, "Issued a client certificate for tool %s, valid until %s (serial %s).\n",
				tool, res.ExpiresAt.Format(time.DateOnly), res.Serial)
			fmt.Fprintf(e.stdout, "Certificate: %s\nKey: %s\nCA: %s\n", res.Cert, res.Key, res.CA)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", ".", "directory to write TOOL.crt, TOOL.key (mode 0600) and ca.crt to")
	cmd.Flags().IntVar(&days, "days", 365, "days the certificate is valid")
	cmd.Flags().BoolVar(&force, "force", false, "replace TOOL.crt and TOOL.key when they exist")
	return cmd
}

// writeCertFiles writes the certificate, its key and the CA certificate;
// an existing certificate or key is an error unless force.
func writeCertFiles(res certIssued, certPEM, keyPEM, caPEM []byte, force bool) error {
	if err := os.MkdirAll(filepath.Dir(res.Cert), 0o755); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if !force {
		for _, p := range []string{res.Key, res.Cert} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists: pass --force to replace it", p)
			}
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{res.Key, keyPEM, 0o600}, {res.Cert, certPEM, 0o644}} {
		w, err := os.OpenFile(f.path, flags, f.perm)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: pass --force to replace it", f.path)
		} else if err != nil {
			return fmt.Errorf("write certificate: %w", err)
		}
		_, werr := w.Write(f.data)
		if cerr := w.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", f.path, werr)
		}
	}
	if err := os.WriteFile(res.CA, caPEM, 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	return nil
}
