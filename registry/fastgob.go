package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A gob stream never starts with a zero byte (its first byte is a non-zero
// message length), so the Gob codec marks a compact encoding of the most
// common scalar values with a leading 0 and a kind byte. Single ints and
// strings are what tiny tasks send, and a full gob stream for them costs an
// encoder, a decoder and a type preamble each time.
const (
	fastInt byte = iota + 1
	fastInt64
	fastUint64
	fastFloat64
	fastString
	fastBool
	fastBytes
	fastInts
	fastInt64s
	fastFloat64s
	fastStrings
)

func fastMarshal(v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return binary.AppendVarint([]byte{0, fastInt}, int64(x)), true
	case int64:
		return binary.AppendVarint([]byte{0, fastInt64}, x), true
	case uint64:
		return binary.AppendUvarint([]byte{0, fastUint64}, x), true
	case float64:
		return binary.LittleEndian.AppendUint64([]byte{0, fastFloat64}, math.Float64bits(x)), true
	case string:
		return append(append(make([]byte, 0, 2+len(x)), 0, fastString), x...), true
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		return []byte{0, fastBool, b}, true
	case []byte:
		if x == nil {
			return nil, false // keep gob's nil/empty distinction out of the fast path
		}
		return append(append(make([]byte, 0, 2+len(x)), 0, fastBytes), x...), true
	case []int:
		b := append(make([]byte, 0, 4+3*len(x)), 0, fastInts)
		b = binary.AppendUvarint(b, uint64(len(x)))
		for _, n := range x {
			b = binary.AppendVarint(b, int64(n))
		}
		return b, true
	case []int64:
		b := append(make([]byte, 0, 4+3*len(x)), 0, fastInt64s)
		b = binary.AppendUvarint(b, uint64(len(x)))
		for _, n := range x {
			b = binary.AppendVarint(b, n)
		}
		return b, true
	case []float64:
		b := append(make([]byte, 0, 4+8*len(x)), 0, fastFloat64s)
		b = binary.AppendUvarint(b, uint64(len(x)))
		for _, f := range x {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
		return b, true
	case []string:
		n := 4
		for _, s := range x {
			n += len(s) + 2
		}
		b := append(make([]byte, 0, n), 0, fastStrings)
		b = binary.AppendUvarint(b, uint64(len(x)))
		for _, s := range x {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		return b, true
	}
	return nil, false
}

var errFast = errors.New("gob: bad compact value")

func fastUnmarshal(data []byte, v any) error {
	if len(data) < 2 {
		return errFast
	}
	kind, body := data[1], data[2:]
	if kind >= fastInts && kind <= fastStrings {
		return fastUnmarshalSlice(kind, body, v)
	}
	var val any
	switch kind {
	case fastInt, fastInt64:
		n, k := binary.Varint(body)
		if k <= 0 || k != len(body) {
			return errFast
		}
		if kind == fastInt {
			val = int(n)
		} else {
			val = n
		}
	case fastUint64:
		n, k := binary.Uvarint(body)
		if k <= 0 || k != len(body) {
			return errFast
		}
		val = n
	case fastFloat64:
		if len(body) != 8 {
			return errFast
		}
		val = math.Float64frombits(binary.LittleEndian.Uint64(body))
	case fastString:
		val = string(body)
	case fastBool:
		if len(body) != 1 || body[0] > 1 {
			return errFast
		}
		val = body[0] == 1
	case fastBytes:
		val = append([]byte{}, body...)
	default:
		return fmt.Errorf("%w: kind %d", errFast, kind)
	}
	switch p := v.(type) {
	case *any:
		*p = val
		return nil
	case *int:
		if x, ok := val.(int); ok {
			*p = x
			return nil
		}
	case *int64:
		if x, ok := val.(int64); ok {
			*p = x
			return nil
		}
	case *uint64:
		if x, ok := val.(uint64); ok {
			*p = x
			return nil
		}
	case *float64:
		if x, ok := val.(float64); ok {
			*p = x
			return nil
		}
	case *string:
		if x, ok := val.(string); ok {
			*p = x
			return nil
		}
	case *bool:
		if x, ok := val.(bool); ok {
			*p = x
			return nil
		}
	case *[]byte:
		if x, ok := val.([]byte); ok {
			*p = x
			return nil
		}
	}
	return fmt.Errorf("gob: cannot decode a %T into %T", val, v)
}

func fastUnmarshalSlice(kind byte, b []byte, v any) error {
	cnt, k := binary.Uvarint(b)
	if k <= 0 || cnt > uint64(len(b)) {
		return errFast
	}
	b = b[k:]
	n := int(cnt)
	var val any
	switch kind {
	case fastInts, fastInt64s:
		xs := make([]int64, 0, n)
		for i := 0; i < n; i++ {
			x, k := binary.Varint(b)
			if k <= 0 {
				return errFast
			}
			xs = append(xs, x)
			b = b[k:]
		}
		if kind == fastInt64s {
			val = xs
			break
		}
		if p, ok := v.(*[]int); ok {
			out := make([]int, n)
			for i, x := range xs {
				out[i] = int(x)
			}
			if len(b) != 0 {
				return errFast
			}
			*p = out
			return nil
		}
		ints := make([]int, n)
		for i, x := range xs {
			ints[i] = int(x)
		}
		val = ints
	case fastFloat64s:
		if len(b) < 8*n {
			return errFast
		}
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			b = b[8:]
		}
		val = xs
	case fastStrings:
		xs := make([]string, 0, n)
		for i := 0; i < n; i++ {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return errFast
			}
			xs = append(xs, string(b[k:k+int(l)]))
			b = b[k+int(l):]
		}
		val = xs
	}
	if len(b) != 0 {
		return errFast
	}
	switch p := v.(type) {
	case *any:
		*p = val
		return nil
	case *[]int:
		if x, ok := val.([]int); ok {
			*p = x
			return nil
		}
	case *[]int64:
		if x, ok := val.([]int64); ok {
			*p = x
			return nil
		}
	case *[]float64:
		if x, ok := val.([]float64); ok {
			*p = x
			return nil
		}
	case *[]string:
		if x, ok := val.([]string); ok {
			*p = x
			return nil
		}
	}
	return fmt.Errorf("gob: cannot decode a %T into %T", val, v)
}
