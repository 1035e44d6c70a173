package initramfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// zstdFrame compresses data as one zstd frame, with or without the
// XXH64 content checksum.
func zstdFrame(t testing.TB, data []byte, checksum bool) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(checksum), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func skippableFrame(payload []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x184d2a5e)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// corruptSum flips a bit of the content checksum that ends a frame.
func corruptSum(frame []byte) []byte {
	frame = slices.Clone(frame)
	frame[len(frame)-1] ^= 0x40
	return frame
}

// bigArchive holds files larger than the prefetch chunks, so that frames
// and checksums span chunk boundaries; it returns the content of the first
// file too.
func bigArchive(t testing.TB) (arc, big []byte) {
	rnd := rand.New(rand.NewPCG(1, 2))
	big = make([]byte, 3*prefetchChunk+12345)
	for i := range big {
		big[i] = byte(rnd.IntN(4)) // compressible, but not trivially
	}
	return mkCPIO(t,
		file{name: "a/big1.ko", body: big},
		file{name: "a/small", body: []byte("small")},
		file{name: "a/big2", body: big[1000:]},
		file{name: "a/last", body: []byte("last")},
	), big
}

// TestListZstdFrames covers images whose zstd segment is made of several
// frames, as parallel compressors write them: the frame checksums are
// verified while the archive is walked, frame by frame.
func TestListZstdFrames(t *testing.T) {
	t.Parallel()
	arc, big := bigArchive(t)
	want := []string{"a/big1.ko", "a/small", "a/big2", "a/last"}
	// Cut inside the first file and inside the header of the third.
	cut1, cut2 := prefetchChunk/2, bytes.Index(arc, []byte("a/big2"))-20
	f1, f2, f3 := zstdFrame(t, arc[:cut1], true), zstdFrame(t, arc[cut1:cut2], true), zstdFrame(t, arc[cut2:], true)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	small := mkCPIO(t, file{name: "s", body: []byte("s")})
	// With an error, want is the longest list of entries that may come
	// before it: entries ending after a corrupt checksum must not.
	tests := []struct {
		name    string
		data    []byte
		want    []string
		wantErr error
		wantMsg string
	}{
		{name: "one frame", data: zstdFrame(t, arc, true), want: want},
		{name: "three frames", data: cat(f1, f2, f3), want: want},
		{name: "no checksums", data: cat(zstdFrame(t, arc[:cut1], false), zstdFrame(t, arc[cut1:], false)), want: want},
		{name: "mixed checksums", data: cat(f1, zstdFrame(t, arc[cut1:cut2], false), f3), want: want},
		// The kernel only recognizes a zstd segment by the magic of a frame
		// proper, so skippable frames come after one.
		{name: "skippable frames", data: cat(f1, skippableFrame(nil), f2, skippableFrame([]byte("hi")), f3, skippableFrame([]byte("end"))), want: want},
		{name: "empty frames", data: cat(zstdFrame(t, nil, true), f1, zstdFrame(t, nil, true), f2, f3), want: want},
		{name: "then gzip", data: cat(f1, f2, f3, make([]byte, 3), compress(t, Gzip, small)), want: append(slices.Clone(want), "s")},
		{name: "bad checksum, one frame", data: corruptSum(zstdFrame(t, arc, true)), want: want[:3], wantErr: zstd.ErrCRCMismatch, wantMsg: "segment 0 (zstd)"},
		{name: "bad checksum, first frame", data: cat(corruptSum(f1), f2, f3), wantErr: zstd.ErrCRCMismatch},
		{name: "bad checksum, middle frame", data: cat(f1, corruptSum(f2), f3), want: want[:1], wantErr: zstd.ErrCRCMismatch},
		{name: "bad checksum, last frame", data: cat(f1, f2, corruptSum(f3)), want: want[:2], wantErr: zstd.ErrCRCMismatch},
		{name: "bad checksum, tiny frame", data: corruptSum(zstdFrame(t, small, true)), wantErr: zstd.ErrCRCMismatch},
		{name: "truncated checksum", data: cat(f1, f2, f3[:len(f3)-2]), want: want[:2], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated skippable frame", data: cat(f1, f2, f3, skippableFrame([]byte("abcdef"))[:10]), want: want, wantErr: io.ErrUnexpectedEOF},
		{name: "only a skippable frame", data: cat(zstdFrame(t, nil, true), skippableFrame([]byte("x"))), wantMsg: "empty compressed segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := listAll(tt.data)
			if ok := tt.wantErr != nil || tt.wantMsg != ""; !ok && !slices.Equal(paths(got), tt.want) ||
				ok && !slices.Equal(paths(got), tt.want[:min(len(got), len(tt.want))]) {
				t.Errorf("paths = %q, want %q", paths(got), tt.want)
			}
			switch {
			case tt.wantErr == nil && tt.wantMsg == "":
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got[0].Hash != sum(big) || got[2].Hash != sum(big[1000:]) {
					t.Errorf("hashes %s, %s are not those of the content", got[0].Hash, got[2].Hash)
				}
			case err == nil:
				t.Fatalf("no error, want %v %q", tt.wantErr, tt.wantMsg)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("error %v, want %v", err, tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantMsg):
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

// TestListStopsItsGoroutines checks that no read-ahead or decompression goroutine
// outlives List, whether the walk ends normally, on a callback error, on
// a truncated image or on a checksum mismatch. It does not run in
// parallel so that no other List is under way when it counts.
func TestListStopsItsGoroutines(t *testing.T) {
	arc, _ := bigArchive(t)
	frame := zstdFrame(t, arc, true)
	// Incompressible content larger than all prefetch buffers together,
	// so that the goroutines are blocked mid-stream when List returns.
	noise := make([]byte, 3*(prefetchDepth+2)*prefetchChunk)
	rand.NewChaCha8([32]byte{5, 6}).Read(noise)
	huge := mkCPIO(t, file{name: "first", body: []byte("1")}, file{name: "noise", body: noise})
	stop := errors.New("stop")
	tests := []struct {
		name string
		data []byte
		fn   func(Entry) error
	}{
		{name: "complete", data: frame},
		{name: "callback error on the first entry", data: frame, fn: func(Entry) error { return stop }},
		{name: "callback error later", data: frame, fn: func(e Entry) error {
			if e.Path == "a/big2" {
				return stop
			}
			return nil
		}},
		{name: "truncated", data: frame[:len(frame)/2]},
		{name: "bad checksum", data: corruptSum(frame)},
		{name: "gzip truncated", data: compress(t, Gzip, arc)[:20000]},
		{name: "xz callback error", data: compress(t, XZ, arc), fn: func(Entry) error { return stop }},
		{name: "large uncompressed, callback error", data: huge, fn: func(Entry) error { return stop }},
		{name: "large zstd, callback error", data: zstdFrame(t, huge, true), fn: func(Entry) error { return stop }},
	}
	for _, tt := range tests {
		fn := tt.fn
		if fn == nil {
			fn = func(Entry) error { return nil }
		}
		err := List(bytes.NewReader(tt.data), fn)
		if tt.fn != nil && !errors.Is(err, stop) {
			t.Errorf("%s: error %v, want the callback's", tt.name, err)
		}
		if n := decodeGoroutines(); n != 0 {
			t.Errorf("%s: %d goroutines reading or decompressing still running after List returned", tt.name, n)
		}
	}
}

func decodeGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("initramfs.(*prefetch).run"))
}
