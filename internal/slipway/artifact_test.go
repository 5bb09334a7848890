package slipway

import "testing"

func TestArtifactRef(t *testing.T) {
	for _, tc := range []struct {
		a    Artifact
		want string
	}{
		{Artifact{Key: "k", Dir: "/data/builds/t/k"}, "/data/builds/t/k"},
		{Artifact{Key: "k", Image: "registry.example/t@sha256:ab"}, "registry.example/t@sha256:ab"},
		{Artifact{Key: "k", Dir: "/d", Image: "img@sha256:ab"}, "img@sha256:ab"},
		{Artifact{Key: "k"}, ""},
	} {
		if got := tc.a.Ref(); got != tc.want {
			t.Errorf("%+v.Ref() = %q, want %q", tc.a, got, tc.want)
		}
	}
}

func TestImageKey(t *testing.T) {
	key := ImageKey("docker-registry.tools.wmflabs.org/toolforge-python311-sssd-base:latest")
	img, ok := ImageOfKey(key)
	if !ok || img != "docker-registry.tools.wmflabs.org/toolforge-python311-sssd-base:latest" {
		t.Fatalf("ImageOfKey(%q) = %q, %v", key, img, ok)
	}
	if _, ok := ImageOfKey(BuildKey("https://example.org/r.git", "0123456789abcdef0123456789abcdef01234567", "v1")); ok {
		t.Fatal("a source build's key taken for an image")
	}
}
