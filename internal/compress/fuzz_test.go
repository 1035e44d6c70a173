package compress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// FuzzOpen feeds arbitrary bytes to each decompressor behind Open: modules
// on disk are not trusted to be well-formed.
func FuzzOpen(f *testing.F) {
	data := []byte("\x7fELF module contents\x00version=1.0\x00")
	var gz, x, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(data)
	gw.Close()
	xw, _ := xz.WriterConfig{DictCap: 64 << 10}.NewWriter(&x)
	xw.Write(data)
	xw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(data)
	zw.Close()
	f.Add(uint8(0), gz.Bytes())
	f.Add(uint8(1), x.Bytes())
	f.Add(uint8(2), zs.Bytes())
	f.Add(uint8(3), data)
	// One file per extension, rewritten by each input: a t.TempDir per
	// input cost more than the decompression.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte) {
		ext := []string{Gz, Xz, Zst, ""}[int(kind)%4]
		p := filepath.Join(dir, "m.ko"+ext)
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p)
		if err != nil {
			return
		}
		defer r.Close()
		got, err := io.ReadAll(io.LimitReader(r, 1<<20))
		if ext == "" && (err != nil || !bytes.Equal(got, raw)) {
			t.Fatalf("plain file read back differently: %v", err)
		}
	})
}
