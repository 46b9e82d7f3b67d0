package registry

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"sync"
)

// Codec turns arguments and results into bytes and back. Python's
// multiprocessing always pickles; trident lets an executor choose, with gob
// as the default because it needs no schema and handles any exported Go
// type. Implementations must be safe for concurrent use, and both ends of a
// call must use the same codec (executors check its Name in their handshake).
type Codec interface {
	// Name identifies the codec on the wire, for example "gob".
	Name() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value pointed to by v.
	Unmarshal(data []byte, v any) error
}

// Gob is the default codec: encoding/gob, one self-contained stream per
// value. Values held in interface-typed fields need gob.Register, exactly as
// with encoding/gob itself.
var Gob Codec = gobCodec{}

// JSON is a codec based on encoding/json, handy when workers are written in
// another language or payloads should be readable.
var JSON Codec = jsonCodec{}

type gobCodec struct{}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (gobCodec) Name() string { return "gob" }

func (gobCodec) Marshal(v any) ([]byte, error) {
	if b, ok := fastMarshal(v); ok {
		return b, nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := gob.NewEncoder(buf).Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	if len(data) > 0 && data[0] == 0 {
		return fastUnmarshal(data, v)
	}
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

var codecs = struct {
	sync.RWMutex
	m map[string]Codec
}{m: map[string]Codec{"gob": Gob, "json": JSON}}

// RegisterCodec makes c findable by its Name with LookupCodec, which is how
// a worker process picks the codec its pool asked for. Register custom
// codecs at package level. It panics if the name is empty or taken.
func RegisterCodec(c Codec) {
	codecs.Lock()
	defer codecs.Unlock()
	if c == nil || c.Name() == "" {
		panic("registry: RegisterCodec needs a named codec")
	}
	if _, dup := codecs.m[c.Name()]; dup {
		panic("registry: codec " + c.Name() + " registered twice")
	}
	codecs.m[c.Name()] = c
}

// LookupCodec returns the codec registered under name ("gob" and "json" are
// always there).
func LookupCodec(name string) (Codec, bool) {
	codecs.RLock()
	defer codecs.RUnlock()
	c, ok := codecs.m[name]
	return c, ok
}
