package doctor

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"

	"github.com/dkms-go/dkms/internal/compress"
)

// sigMagic ends a module with an appended signature (scripts/sign-file).
const sigMagic = "~Module signature appended~\n"

// idPKCS7 is module_signature.id_type for a PKCS#7 (CMS) signature, the
// only kind sign-file has written since Linux 4.3.
const idPKCS7 = 2

// Signature identifies the key that signed a module.
type Signature struct {
	Issuer       []byte   // DER of the signer's issuer Name ("" with SKID)
	Serial       *big.Int // the signer certificate's serial number
	SubjectKeyID []byte   // set instead of Issuer and Serial by sign-file -k
	Signer       string   // the issuer's common name, for people
}

// ErrUnsigned means the module has no appended signature.
var ErrUnsigned = errors.New("module is not signed")

// ReadSignature reads the appended signature of a module file,
// decompressing it according to its suffix.
func ReadSignature(path string) (*Signature, error) {
	var data []byte
	if compress.Suffix(path) == "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		// Signatures are a few hundred bytes to a few KiB.
		n := min(st.Size(), 64<<10)
		data = make([]byte, n)
		if _, err := f.ReadAt(data, st.Size()-n); err != nil && err != io.EOF {
			return nil, err
		}
	} else {
		r, err := compress.Open(path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		data, err = io.ReadAll(io.LimitReader(r, 1<<30))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	return ParseSignature(data)
}

// ParseSignature parses the signature trailer at the end of a module's
// bytes: the PKCS#7 blob, a 12-byte module_signature and the magic.
func ParseSignature(data []byte) (*Signature, error) {
	if !bytes.HasSuffix(data, []byte(sigMagic)) {
		return nil, ErrUnsigned
	}
	data = data[:len(data)-len(sigMagic)]
	if len(data) < 12 {
		return nil, errors.New("signature trailer truncated")
	}
	info := data[len(data)-12:]
	if info[2] != idPKCS7 {
		return nil, fmt.Errorf("unsupported signature type %d", info[2])
	}
	n := binary.BigEndian.Uint32(info[8:])
	data = data[:len(data)-12]
	if uint64(n) > uint64(len(data)) {
		return nil, errors.New("signature length exceeds the module")
	}
	return parsePKCS7(data[len(data)-int(n):])
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

type contentInfo struct {
	Type    asn1.ObjectIdentifier
	Content asn1.RawValue `asn1:"explicit,tag:0"`
}

// parsePKCS7 finds the first SignerInfo's signer identifier in a CMS
// SignedData (RFC 5652 §5): issuer and serial, or a subject key id.
func parsePKCS7(der []byte) (*Signature, error) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if !ci.Type.Equal(oidSignedData) {
		return nil, errors.New("signature: not PKCS#7 signed data")
	}
	var sd asn1.RawValue
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	// SignedData's fields: version, digestAlgorithms, encapContentInfo,
	// [0] certificates, [1] crls, signerInfos (the last, a SET).
	rest := sd.Bytes
	var last asn1.RawValue
	for len(rest) > 0 {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, fmt.Errorf("signature: %w", err)
		}
		last = f
	}
	if last.Class != asn1.ClassUniversal || last.Tag != asn1.TagSet {
		return nil, errors.New("signature: no signer infos")
	}
	var si asn1.RawValue
	if _, err := asn1.Unmarshal(last.Bytes, &si); err != nil {
		return nil, fmt.Errorf("signature: signer info: %w", err)
	}
	var version int
	rest, err := asn1.Unmarshal(si.Bytes, &version)
	if err != nil {
		return nil, fmt.Errorf("signature: signer info: %w", err)
	}
	var sid asn1.RawValue
	if _, err := asn1.Unmarshal(rest, &sid); err != nil {
		return nil, fmt.Errorf("signature: signer id: %w", err)
	}
	if sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 {
		return &Signature{SubjectKeyID: sid.Bytes, Signer: "key id " + hex.EncodeToString(sid.Bytes)}, nil
	}
	var ias struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil {
		return nil, fmt.Errorf("signature: issuer and serial: %w", err)
	}
	s := &Signature{Issuer: ias.Issuer.FullBytes, Serial: ias.Serial}
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(ias.Issuer.FullBytes, &rdn); err == nil {
		var name pkix.Name
		name.FillFromRDNSequence(&rdn)
		s.Signer = name.CommonName
		if s.Signer == "" {
			s.Signer = strings.Join(name.Organization, ", ")
		}
	}
	return s, nil
}
