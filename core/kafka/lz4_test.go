package kafka

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lz4Frame compresses data as one LZ4 frame with the writer options.
func lz4Frame(t testing.TB, data []byte, opts ...lz4.Option) []byte {
	t.Helper()
	var out bytes.Buffer
	w := lz4.NewWriter(&out)
	if err := w.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// payload is record-like data: compressible runs with random bytes mixed
// in, so frames hold compressed blocks and, for the random tail, raw ones.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		switch {
		case i > n*3/4:
			b[i] = byte(r.Uint32())
		case i%64 < 8:
			b[i] = byte(r.IntN(4))
		default:
			b[i] = byte('a' + i%26)
		}
	}
	return b
}

// Every frame shape a producer writes decodes to what kgo's own decoder
// gives: block sizes, block and content checksums, a content size,
// several frames back to back, skippable frames, kgo's own compressor.
func TestLZ4FramesMatchKgo(t *testing.T) {
	def := kgo.DefaultDecompressor()
	ours := FetchDecompressor(1 << 30)
	kgoLz4, err := kgo.DefaultCompressor(kgo.Lz4Compression())
	if err != nil {
		t.Fatal(err)
	}
	skippable := []byte{0x5A, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'}
	for _, n := range []int{0, 1, 100, 70 << 10, 300 << 10, 5 << 20} {
		data := payload(n, uint64(n))
		cases := map[string][]byte{}
		for _, bs := range []lz4.BlockSize{lz4.Block64Kb, lz4.Block256Kb, lz4.Block1Mb, lz4.Block4Mb} {
			for _, bc := range []bool{false, true} {
				for _, cc := range []bool{false, true} {
					name := bs.String() + map[bool]string{true: "+blocksum", false: ""}[bc] + map[bool]string{true: "+contentsum", false: ""}[cc]
					cases[name] = lz4Frame(t, data, lz4.BlockSizeOption(bs), lz4.BlockChecksumOption(bc), lz4.ChecksumOption(cc))
				}
			}
		}
		cases["content size"] = lz4Frame(t, data, lz4.SizeOption(uint64(n)))
		cases["level 9"] = lz4Frame(t, data, lz4.CompressionLevelOption(lz4.Level9))
		half := lz4Frame(t, data[:n/2])
		cases["two frames and a skippable one"] = append(append(append([]byte{}, half...), skippable...), lz4Frame(t, data[n/2:])...)
		kc, _ := kgoLz4.Compress(new(bytes.Buffer), data)
		cases["kgo"] = append([]byte{}, kc...)
		for name, frame := range cases {
			want, err := def.Decompress(frame, kgo.CodecLz4)
			if err != nil {
				t.Fatalf("%d bytes, %s: kgo: %v", n, name, err)
			}
			got, handled, err := decodeLZ4Frames(frame, 1<<30)
			if !handled || err != nil || !bytes.Equal(got, data) || !bytes.Equal(want, data) {
				t.Fatalf("%d bytes, %s: handled %v, err %v, equal %v (kgo equal %v)", n, name, handled, err, bytes.Equal(got, data), bytes.Equal(want, data))
			}
			if got, err := ours.Decompress(frame, kgo.CodecLz4); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes, %s: Decompress: %v", n, name, err)
			}
		}
	}
	// Other codecs go to kgo.
	sn, _ := kgo.DefaultCompressor(kgo.SnappyCompression())
	data := payload(10000, 7)
	c, _ := sn.Compress(new(bytes.Buffer), data)
	if got, err := ours.Decompress(append([]byte{}, c...), kgo.CodecSnappy); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("snappy: %v", err)
	}
}

func TestLZ4Bound(t *testing.T) {
	frame := lz4Frame(t, bytes.Repeat([]byte("a"), 3<<20))
	if _, _, err := decodeLZ4Frames(frame, 1<<20); !errors.Is(err, kgo.ErrMaxDecompress) {
		t.Fatalf("3 MiB against a 1 MiB bound: %v", err)
	}
}

// Frames of dependent blocks are left to kgo.
func TestLZ4DependentBlocksGoToKgo(t *testing.T) {
	data := payload(200<<10, 3)
	frame := lz4Frame(t, data, lz4.BlockSizeOption(lz4.Block64Kb))
	dep := append([]byte{}, frame...)
	dep[4] &^= 0x20 // B.Indep
	if _, handled, _ := decodeLZ4Frames(dep, 1<<30); handled {
		t.Fatal("a frame of dependent blocks was decoded, not left to kgo")
	}
}
