package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// uidMap gives each tool a uid of its own, for good: the file it keeps
// ("<tool> <uid>" lines) is appended to (and synced) on every allocation, and
// a uid is never given to another tool, even after the first one is gone. A
// line cut short by a crash is ignored (its tool gets a new uid, as nothing
// of it can exist yet).
type uidMap struct {
	path        string
	base, count int

	mu     sync.Mutex
	byTool map[string]int
	next   int
}

func loadUIDs(path string, base, count int) (*uidMap, error) {
	if base < 1000 || count < 1 || base+count > 1<<31 {
		return nil, fmt.Errorf("uid range %d+%d: want a base of at least 1000 and an end below 2^31", base, count)
	}
	m := &uidMap{path: path, base: base, count: count, byTool: map[string]int{}, next: base}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
		b = b[:i+1] // a line cut short by a crash: drop it for good
		if err := os.Truncate(path, int64(len(b))); err != nil {
			return nil, fmt.Errorf("repair %s: %w", path, err)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		tool, num, ok := strings.Cut(sc.Text(), " ")
		uid, err := strconv.Atoi(num)
		if !ok || err != nil || tool == "" {
			return nil, fmt.Errorf("%s line %d: want \"<tool> <uid>\", got %q", path, n, sc.Text())
		}
		m.byTool[tool] = uid
		m.next = max(m.next, uid+1)
	}
	return m, sc.Err()
}

// get returns the tool's uid, allocating and recording the next free one
// the first time.
func (m *uidMap) get(tool string) (int, error) {
	if strings.ContainsAny(tool, " \n") || tool == "" {
		return 0, fmt.Errorf("invalid tool name %q", tool)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if uid, ok := m.byTool[tool]; ok {
		return uid, nil
	}
	if m.next >= m.base+m.count {
		return 0, fmt.Errorf("no uid left for tool %s: all %d of the range from %d are taken", tool, m.count, m.base)
	}
	uid := m.next
	if err := appendLine(m.path, fmt.Sprintf("%s %d\n", tool, uid)); err != nil {
		return 0, fmt.Errorf("record the uid of %s: %w", tool, err)
	}
	m.byTool[tool] = uid
	m.next++
	return uid, nil
}

// appendLine appends line to the file at path and syncs it.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
