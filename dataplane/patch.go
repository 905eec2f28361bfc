package dataplane

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"sync"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
)

// parts are a snapshot's configuration piece by piece (each flag's and segment's JSON), kept so a
// stream can send only what changed (a "patch") and so the whole document is assembled without
// encoding it twice.
type parts struct {
	flags    map[string][]byte // served flags (archived ones are left out, as from the document)
	segments map[string][]byte
	mu       sync.Mutex
	patches  map[int64][]byte // previous version → the patch from it, computed once per snapshot
}

// encodeParts encodes each flag and segment, then assembles the whole configuration document.
func encodeParts(env string, version int64, flags []engine.Flag, segments []engine.Segment) (*parts, []byte, error) {
	p := &parts{flags: make(map[string][]byte, len(flags)), segments: make(map[string][]byte, len(segments))}
	size := 128
	for i := range flags {
		b, err := json.Marshal(&flags[i])
		if err != nil {
			return nil, nil, err
		}
		p.flags[flags[i].Key] = b
		size += len(b) + 1
	}
	for i := range segments {
		b, err := json.Marshal(&segments[i])
		if err != nil {
			return nil, nil, err
		}
		p.segments[segments[i].Key] = b
		size += len(b) + 1
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		return nil, nil, err
	}
	doc := make([]byte, 0, size)
	doc = append(doc, `{"schema_version":`...)
	doc = strconv.AppendInt(doc, vane.SchemaVersion, 10)
	doc = append(doc, `,"environment":`...)
	doc = append(doc, envJSON...)
	doc = append(doc, `,"version":`...)
	doc = strconv.AppendInt(doc, version, 10)
	doc = append(doc, `,"flags":`...)
	doc = appendList(doc, p.flags, sortedKeys(p.flags))
	doc = append(doc, `,"segments":`...)
	doc = appendList(doc, p.segments, sortedKeys(p.segments))
	doc = append(doc, '}')
	return p, doc, nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendList(b []byte, m map[string][]byte, keys []string) []byte {
	b = append(b, '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m[k]...)
	}
	return append(b, ']')
}

func appendKeys(b []byte, keys []string) []byte {
	b = append(b, '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		b = append(b, kb...)
	}
	return append(b, ']')
}

// changed lists the keys of next that are new or different from prev, and those of prev that are gone.
func changed(prev, next map[string][]byte) (upserted map[string][]byte, deleted []string) {
	upserted = map[string][]byte{}
	for k, b := range next {
		if old, ok := prev[k]; !ok || !bytes.Equal(old, b) {
			upserted[k] = b
		}
	}
	for k := range prev {
		if _, ok := next[k]; !ok {
			deleted = append(deleted, k)
		}
	}
	sort.Strings(deleted)
	return upserted, deleted
}

// PatchFrom is the SDK stream's "patch" event from prev to s (vane.Patch): the flags and segments
// that changed, in full, and the keys of those deleted, with previous_version = prev.Version so a
// client holding another version knows it missed one. It is computed once per pair of versions,
// however many streams send it.
func (s *Snapshot) PatchFrom(prev *Snapshot) []byte {
	s.parts.mu.Lock()
	defer s.parts.mu.Unlock()
	if b, ok := s.parts.patches[prev.Version]; ok {
		return b
	}
	flags, goneFlags := changed(prev.parts.flags, s.parts.flags)
	segs, goneSegs := changed(prev.parts.segments, s.parts.segments)
	b := []byte(`{"schema_version":`)
	b = strconv.AppendInt(b, vane.SchemaVersion, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, s.Version, 10)
	b = append(b, `,"previous_version":`...)
	b = strconv.AppendInt(b, prev.Version, 10)
	b = append(b, `,"flags":`...)
	b = appendList(b, flags, sortedKeys(flags))
	b = append(b, `,"segments":`...)
	b = appendList(b, segs, sortedKeys(segs))
	b = append(b, `,"deleted_flags":`...)
	b = appendKeys(b, goneFlags)
	b = append(b, `,"deleted_segments":`...)
	b = appendKeys(b, goneSegs)
	b = append(b, '}')
	if s.parts.patches == nil {
		s.parts.patches = map[int64][]byte{}
	}
	if len(s.parts.patches) >= 4 { // a stream rarely lags more than a version or two behind
		clear(s.parts.patches)
	}
	s.parts.patches[prev.Version] = b
	return b
}
