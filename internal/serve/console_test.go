package serve

import "testing"

func TestDevUIListen(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:8200": "127.0.0.1:8201", "127.0.0.1:0": "127.0.0.1:0", "0.0.0.0:9000": "127.0.0.1:9001", "bad": "127.0.0.1:0"} {
		if got := devUIListen(in); got != want {
			t.Errorf("devUIListen(%q) = %q, want %q", in, got, want)
		}
	}
}
