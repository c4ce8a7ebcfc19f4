package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLoadMasterSecret_FromEnv(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	long := bytes.Repeat([]byte{0xfe}, 48)
	tests := []struct {
		name, env string
		want      []byte
	}{
		{"hex", hex.EncodeToString(raw), raw},
		{"hex with surrounding space", " " + hex.EncodeToString(raw) + "\n", raw},
		{"base64 std", base64.StdEncoding.EncodeToString(raw), raw},
		{"base64 raw url", base64.RawURLEncoding.EncodeToString(raw), raw},
		{"base64 of 48 bytes", base64.StdEncoding.EncodeToString(long), long},
		{"raw string of 32 chars", "correct horse battery staple 123", []byte("correct horse battery staple 123")},
		{"short base64 taken as raw string when long enough", "dGhpcyBpcyBhIHNob3J0IHNlY3JldA==", []byte("dGhpcyBpcyBhIHNob3J0IHNlY3JldA==")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The path must not be touched when the environment value is set.
			path := filepath.Join(t.TempDir(), "secret")
			got, err := LoadMasterSecret(tt.env, path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("secret = %x, want %x", got, tt.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("secret file created although the environment value was set")
			}
		})
	}
}

func TestLoadMasterSecret_ShortEnv_RefusedWithoutLeaking(t *testing.T) {
	for _, env := range []string{"s3cr3t", hex.EncodeToString(make([]byte, 15)), "c2hvcnQ="} {
		_, err := LoadMasterSecret(env, "")
		if err == nil {
			t.Fatalf("LoadMasterSecret(%q) accepted a short secret", env)
		}
		if strings.Contains(err.Error(), env) {
			t.Fatalf("error %q contains the secret", err)
		}
	}
}

func TestLoadMasterSecret_NoEnvNoPath_Error(t *testing.T) {
	if _, err := LoadMasterSecret("", ""); err == nil {
		t.Fatal("want an error")
	}
}

func TestLoadMasterSecret_File_CreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	first, err := LoadMasterSecret("", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 32 {
		t.Fatalf("created secret has %d bytes, want 32", len(first))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %#o, want 0600", info.Mode().Perm())
	}
	second, err := LoadMasterSecret("", path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("second load returned a different secret")
	}
	content, _ := os.ReadFile(path)
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(content))); err != nil || !bytes.Equal(dec, first) {
		t.Fatalf("file does not hold the secret in base64: %v", err)
	}
}

func TestLoadMasterSecret_File_GroupOrOtherAccess_Refused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX permissions")
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o666} {
		path := filepath.Join(t.TempDir(), "secret")
		secret := base64.StdEncoding.EncodeToString(testMaster(3))
		if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMasterSecret("", path)
		if err == nil {
			t.Fatalf("mode %#o: accepted", mode)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the secret: %v", err)
		}
	}
}

func TestLoadMasterSecret_File_ExistingForms(t *testing.T) {
	tests := []struct{ name, content string }{
		{"base64 with newline", base64.StdEncoding.EncodeToString(testMaster(4)) + "\n"},
		{"hex", hex.EncodeToString(testMaster(4))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadMasterSecret("", path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, testMaster(4)) {
				t.Fatalf("secret = %x", got)
			}
		})
	}
	t.Run("too short", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadMasterSecret("", path); err == nil {
			t.Fatal("accepted a short secret file")
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadMasterSecret("", dir); err == nil {
			t.Fatal("accepted a directory")
		}
	})
}

// TestLoadMasterSecret_File_CreatedByManyAtOnce_AllGetTheOneSecret starts
// like instances sharing a secret file on their first start: all load it
// at the same moment, none fails on a half-written file, and all end up
// with the same secret.
func TestLoadMasterSecret_File_CreatedByManyAtOnce_AllGetTheOneSecret(t *testing.T) {
	for range 20 {
		path := filepath.Join(t.TempDir(), "keyshift.secret")
		const n = 8
		secrets := make([][]byte, n)
		errs := make([]error, n)
		release := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-release
				secrets[i], errs[i] = LoadMasterSecret("", path)
			})
		}
		close(release)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("loader %d: %v", i, errs[i])
			}
			if !bytes.Equal(secrets[i], secrets[0]) {
				t.Fatalf("loader %d got another secret than loader 0", i)
			}
		}
	}
}
