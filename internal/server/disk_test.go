package server_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // the SQLite driver, to check the file's integrity

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/diskspace"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted
// when the test ends. It skips the test unless it runs as root.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a size-limited tmpfs needs root (CI runs the tests as root)")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): a container without CAP_SYS_ADMIN?", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// free returns the bytes free on dir's filesystem.
func free(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill allocates a file in dir that leaves about left bytes free on its
// filesystem (none when left is 0: the filesystem is then full).
func fill(t *testing.T, dir, name string, left int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := free(t, dir) - left
	for n > 0 {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, n); err == nil {
			break
		} else if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fallocate %d: %v", n, err)
		}
		n -= 4096 // what the filesystem keeps for itself
	}
	if left == 0 {
		// Whatever is left (partly used pages): small files until none fits.
		for i := 0; ; i++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.%d", name, i)), make([]byte, 4096), 0o600); err != nil {
				break
			}
		}
	}
}

// integrity runs SQLite's integrity check on the data directory's store,
// read-only, beside the running server.
func integrity(t *testing.T, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "slipway.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
}

// waitFinal waits until the deployment is final and returns it.
func waitFinal(t *testing.T, c *apiclient.Client, id string) slipway.Deployment {
	t.Helper()
	var d slipway.Deployment
	servertest.Eventually(t, func() string {
		env, err := c.DeploymentGet(t.Context(), servertest.Tool, id)
		if err != nil {
			return err.Error()
		}
		if d, err = env.Deployment(); err != nil {
			return err.Error()
		}
		if !d.Status.Final() {
			return "deployment " + string(d.Status)
		}
		return ""
	})
	return d
}

// Ensure that with the data directory on a small filesystem under its
// free-space floor, a build is refused with a message saying so, healthz
// reports DEGRADED with the reason, and everything stored before is still
// there and readable; and that on a really full filesystem requests get a
// clear error and the store is not damaged, and work again once space is
// freed.
func TestServer_DiskFloor(t *testing.T) {
	t.Parallel()
	mnt := mountTmpfs(t, 96<<20)
	data := filepath.Join(mnt, "data")
	s := servertest.StartWith(t, func(c *server.Config) {
		c.DataDir = data
		c.MinFreeDisk = diskspace.Floor{Bytes: 32 << 20}
	})
	c, ctx := s.Client, t.Context()
	list, err := c.DeploymentList(ctx, servertest.Tool)
	if err != nil {
		t.Fatal(err)
	}
	before, err := list.Deployments()
	if err != nil || len(before) != 1 {
		t.Fatalf("deployments before: %+v, %v", before, err)
	}
	if h, err := c.Health(ctx); err != nil || h.Status != "OK" {
		t.Fatalf("healthz with room = %+v, %v", h, err)
	}

	// Under the floor: 16 MiB free, the floor is 32 MiB.
	fill(t, mnt, "filler", 16<<20)
	env, err := c.DeploymentCreate(ctx, servertest.Tool, true, false, "forced build under the floor")
	if err != nil {
		t.Fatal(err)
	}
	created, err := env.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	d := waitFinal(t, c, created.ID)
	wantMsg := "not enough free disk space on " + mnt + ": "
	if d.Status != slipway.DeploymentFailed || !strings.Contains(d.LongStatus, "build refused: "+wantMsg) ||
		!strings.Contains(d.LongStatus, "the floor is 32 MiB; free some space or lower --min-free-disk") {
		t.Errorf("deployment under the floor: %s: %q", d.Status, d.LongStatus)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Status != "DEGRADED" || !strings.HasPrefix(h.Checks["disk"], "degraded: "+wantMsg) {
		t.Errorf("healthz under the floor = %+v, %v", h, err)
	}
	assertStored(t, c, before)
	integrity(t, data)

	// Really full: writes to the store fail; the answers say why and
	// nothing is damaged.
	fill(t, mnt, "rest", 0)
	_, err = c.DeploymentCreate(ctx, servertest.Tool, false, false, "on a full disk")
	t.Logf("deployment create on a full disk: %v", err)
	var se *apiclient.ServerError
	if !errors.As(err, &se) || se.Status != 503 || !strings.Contains(se.Message, "disk is full") {
		t.Errorf("deployment create on a full disk = %v; want 503 saying the disk is full", err)
	}
	_, err = c.ConfigCreate(ctx, servertest.Tool, servertest.Config(s.Repo.URL))
	t.Logf("config create on a full disk: %v", err)
	if !errors.As(err, &se) || se.Status != 503 || !strings.Contains(se.Message, "disk is full") {
		t.Errorf("config create on a full disk = %v; want 503 saying the disk is full", err)
	}
	if h, err := c.Health(ctx); err != nil || h.Status != "DEGRADED" {
		t.Errorf("healthz on a full disk = %+v, %v", h, err)
	}
	assertStored(t, c, before)
	integrity(t, data)

	// Room again: it all works.
	matches, _ := filepath.Glob(filepath.Join(mnt, "rest*"))
	for _, p := range append(matches, filepath.Join(mnt, "filler")) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := c.Health(ctx); err != nil || h.Status != "OK" {
		t.Errorf("healthz with room again = %+v, %v", h, err)
	}
	env, err = c.DeploymentCreate(ctx, servertest.Tool, true, false, "room again")
	if err != nil {
		t.Fatal(err)
	}
	if created, err = env.Deployment(); err != nil {
		t.Fatal(err)
	}
	if d := waitFinal(t, c, created.ID); d.Status != slipway.DeploymentSuccessful {
		t.Errorf("deployment with room again: %s: %s", d.Status, d.LongStatus)
	}
	assertStored(t, c, before)
	integrity(t, data)
}

// assertStored fails unless the deployments stored before are still
// listed and shown as they were.
func assertStored(t *testing.T, c *apiclient.Client, before []slipway.Deployment) {
	t.Helper()
	list, err := c.DeploymentList(t.Context(), servertest.Tool)
	if err != nil {
		t.Fatalf("deployment list: %v", err)
	}
	now, err := list.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range before {
		found := false
		for _, d := range now {
			found = found || d.ID == b.ID
		}
		if !found {
			t.Errorf("deployment %s is no longer listed", b.ID)
		}
		env, err := c.DeploymentGet(t.Context(), servertest.Tool, b.ID)
		if err != nil {
			t.Errorf("deployment show %s: %v", b.ID, err)
			continue
		}
		d, err := env.Deployment()
		if err != nil || d.Status != b.Status || d.LongStatus != b.LongStatus || !d.CreatedAt.Equal(b.CreatedAt) {
			t.Errorf("deployment %s now %+v (%v), was %+v", b.ID, d, err, b)
		}
	}
}
