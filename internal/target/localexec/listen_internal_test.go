package localexec

import (
	"slices"
	"testing"
)

func TestListenersIn(t *testing.T) {
	t.Parallel()
	tcp := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F41 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0000000000000000 20 4 30 10 -1
`)
	tcp6 := []byte(`  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 444 1 0000000000000000 100 0 0 10 0
`)
	mine := map[string]bool{"111": true, "333": true, "444": true}
	got := append(listenersIn(tcp, mine), listenersIn(tcp6, mine)...)
	want := []string{"127.0.0.1:8000", "[::1]:8080"} // 222 is another's, 333 is not listening
	if !slices.Equal(got, want) {
		t.Errorf("listeners = %v, want %v", got, want)
	}
	if !listensOn(got, 8080) || listensOn(got, 80) {
		t.Errorf("listensOn(%v) wrong", got)
	}
	for _, bad := range []string{"0100007F", "zz00007F:1F40", "0100007F:ZZZZ", "01007F:1F40"} {
		if a, err := procAddr(bad); err == nil {
			t.Errorf("procAddr(%q) = %q, want an error", bad, a)
		}
	}
}
