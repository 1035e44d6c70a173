package initramfs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The module index of an image is what Check needs from it: the path and
// content hash of every regular kernel module file, by module name. With
// Options.CacheDir set it is kept in a file per image, valid for as long as
// the image's device, inode, size, mtime and ctime stay the same (any
// rewrite of the image changes its ctime), so that a second check of an
// unchanged image reads a few hundred KiB of text instead of decompressing
// tens of MiB. The format is private and versioned by its first line.
const indexMagic = "dkms-initramfs-index-1"

// imageID is the identity line of an image's index.
func imageID(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s %d %d %d %d.%09d %d.%09d", indexMagic, st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
}

func indexPath(dir, image string) string {
	abs, err := filepath.Abs(image)
	if err != nil {
		abs = image
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, filepath.Base(image)+"."+hex.EncodeToString(sum[:6]))
}

// readIndex returns the cached module entries of image whose names are in
// want, or ok=false when there is no valid index.
func readIndex(dir, image string, fi os.FileInfo, want map[string]bool) (map[string][]Entry, bool) {
	id := imageID(fi)
	if dir == "" || id == "" {
		return nil, false
	}
	b, err := os.ReadFile(indexPath(dir, image))
	if err != nil {
		return nil, false
	}
	head, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok || string(head) != id || !bytes.HasSuffix(rest, []byte("end\n")) {
		return nil, false
	}
	rest = rest[:len(rest)-len("end\n")]
	copies := map[string][]Entry{}
	for len(rest) > 0 {
		line, tail, _ := bytes.Cut(rest, []byte("\n"))
		rest = tail
		name, more, ok1 := bytes.Cut(line, []byte("\t"))
		if !want[string(name)] {
			continue
		}
		hash, more, ok2 := bytes.Cut(more, []byte("\t"))
		size, path, ok3 := bytes.Cut(more, []byte("\t"))
		n, err := strconv.ParseInt(string(size), 10, 64)
		if !ok1 || !ok2 || !ok3 || err != nil {
			return nil, false
		}
		copies[string(name)] = append(copies[string(name)], Entry{Path: string(path), Hash: string(hash), Size: n, Mode: 0o644})
	}
	return copies, true
}

// writeIndex stores the module entries of image; failures only cost the
// next run its shortcut.
func writeIndex(dir, image string, fi os.FileInfo, entries []Entry) {
	id := imageID(fi)
	if dir == "" || id == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".index-*")
	if err != nil {
		return
	}
	w := bufio.NewWriter(tmp)
	w.WriteString(id + "\n")
	for _, e := range entries {
		if strings.ContainsAny(e.Path, "\t\n") {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", moduleName(e.Path), e.Hash, e.Size, e.Path)
	}
	w.WriteString("end\n")
	if w.Flush() != nil || tmp.Close() != nil || os.Rename(tmp.Name(), indexPath(dir, image)) != nil {
		os.Remove(tmp.Name())
	}
}
