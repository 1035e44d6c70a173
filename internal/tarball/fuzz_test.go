package tarball

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzExtract feeds arbitrary bytes to Extract. Whatever happens, it must
// not panic, a failure must leave the destination empty with no staging
// left over, and a success must not have created anything that points
// outside the destination.
func FuzzExtract(f *testing.F) {
	f.Add(rawTar(f, []ent{dir("./d/"), file("./d/f", "x"), symlink("./d/l", "f"), hardlink("./h", "./d/f")}))
	f.Add(rawTar(f, []ent{dir("./d/"), symlink("./d/s", ".."), symlink("./d/t", "s/../..")}))
	f.Add(rawTar(f, []ent{file("../x", "x")}))
	f.Add(compressBytes(f, codecGzip, rawTar(f, []ent{file("./a", "b")})))
	f.Add(compressBytes(f, codecXz, rawTar(f, []ent{file("./a", "b")})))
	f.Add(compressBytes(f, codecZstd, rawTar(f, []ent{file("./a", "b")})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		archive := writeFile(t, "fuzz.tar", data)
		dest := freshDest(t)
		err := Extract(ctx, archive, dest, Limits{MaxMembers: 200, MaxMemberSize: 1 << 20, MaxTotalSize: 4 << 20})
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Skip("slow input")
			}
			assertUntouched(t, dest)
			return
		}
		if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
			t.Errorf("staging left behind: %v", ents)
		}
		realDest, _ := filepath.EvalSymlinks(dest)
		filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				return nil
			}
			if r, err := filepath.EvalSymlinks(p); err == nil && r != realDest && !strings.HasPrefix(r, realDest+"/") {
				t.Errorf("%s resolves outside the destination to %s", p, r)
			}
			return nil
		})
	})
}
