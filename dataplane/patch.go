package dataplane

import (
	"bytes"
	"encoding/json"
	"maps"
	"sort"
	"strconv"
	"sync"
	"unsafe"
	"weak"

	vane "github.com/vanehq/vane/sdk/go"
)

// parts are what a snapshot needs, besides each served flag's JSON (Flag.piece), to write its SDK
// configuration: the segments' JSON and the document's header. A derived snapshot remembers what
// changed since its base, so a stream's "patch" costs what changed, and the whole document is
// assembled only when an SDK asks for it.
type parts struct {
	segments map[string][]byte
	size     int // bytes of every piece, flags' and segments'

	header []byte // {"schema_version":…,"environment":…,"version":…,"flags":
	// base is the serial of the snapshot these parts were derived from (0: built afresh), and
	// changedFlags / changedSegments what changed since: true for new or different, false for gone.
	base            uint64
	changedFlags    map[string]bool
	changedSegments map[string]bool

	docMu  sync.Mutex
	doc    weak.Pointer[byte] // the assembled document while anyone holds it
	docLen int

	mu      sync.Mutex
	patches map[uint64][]byte // previous snapshot's serial → the patch from it, computed once per snapshot
}

// flagChanged records that a flag's JSON went from old's to next's (either nil or archived: none).
func (pt *parts) flagChanged(key string, old, next *Flag) {
	var was, is []byte
	if old != nil {
		was = old.piece
	}
	if next != nil {
		is = next.piece
	}
	if (was == nil && is == nil) || (was != nil && is != nil && bytes.Equal(was, is)) {
		return
	}
	pt.size += len(is) - len(was)
	if pt.base == 0 {
		return // built afresh: a patch from it compares the pieces
	}
	if pt.changedFlags == nil {
		pt.changedFlags = map[string]bool{}
	}
	pt.changedFlags[key] = is != nil
}

func (pt *parts) putSegment(key string, b []byte) {
	pt.segments, pt.changedSegments = put(pt.segments, pt.changedSegments, &pt.size, key, b)
}

func (pt *parts) deleteSegment(key string) {
	pt.changedSegments = remove(pt.segments, pt.changedSegments, &pt.size, key)
}

func put(m map[string][]byte, changed map[string]bool, size *int, key string, b []byte) (map[string][]byte, map[string]bool) {
	if m == nil {
		m = map[string][]byte{}
	}
	old, ok := m[key]
	if ok && bytes.Equal(old, b) {
		return m, changed
	}
	*size += len(b) - len(old)
	m[key] = b
	if changed == nil {
		changed = map[string]bool{}
	}
	changed[key] = true
	return m, changed
}

func remove(m map[string][]byte, changed map[string]bool, size *int, key string) map[string]bool {
	old, ok := m[key]
	if !ok {
		return changed
	}
	*size -= len(old)
	delete(m, key)
	if changed == nil {
		changed = map[string]bool{}
	}
	changed[key] = false
	return changed
}

func (pt *parts) setHeader(env string, version int64) error {
	envJSON, err := json.Marshal(env)
	if err != nil {
		return err
	}
	h := make([]byte, 0, 64+len(envJSON))
	h = append(h, `{"schema_version":`...)
	h = strconv.AppendInt(h, vane.SchemaVersion, 10)
	h = append(h, `,"environment":`...)
	h = append(h, envJSON...)
	h = append(h, `,"version":`...)
	h = strconv.AppendInt(h, version, 10)
	pt.header = append(h, `,"flags":`...)
	return nil
}

// ConfigJSON is the environment's whole configuration (SDKConfig) as JSON, for SDKs that evaluate
// locally. It is assembled from the pieces on demand and shared while any request still holds it
// (a burst of SDKs connecting at once assembles it once); an idle snapshot keeps only the pieces.
// The caller must not change it.
func (s *Snapshot) ConfigJSON() []byte {
	pt := s.parts
	pt.docMu.Lock()
	defer pt.docMu.Unlock()
	if p := pt.doc.Value(); p != nil {
		return unsafe.Slice(p, pt.docLen)
	}
	doc := make([]byte, 0, len(pt.header)+pt.size+len(s.Keys)+len(pt.segments)+32)
	doc = append(doc, pt.header...)
	doc = append(doc, '[')
	for i, k := range s.Keys {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, s.Flag(k).piece...)
	}
	doc = append(doc, ']')
	doc = append(doc, `,"segments":`...)
	doc = appendList(doc, pt.segments, sortedKeys(pt.segments))
	doc = append(doc, '}')
	pt.doc, pt.docLen = weak.Make(&doc[0]), len(doc)
	return doc
}

func sortedKeys[V any](m map[string]V) []string {
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

// diff lists the keys of next that are new or different from prev (true), and those of prev that
// are gone (false).
func diff(prev, next map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for k, b := range next {
		if old, ok := prev[k]; !ok || !bytes.Equal(old, b) {
			out[k] = true
		}
	}
	for k := range prev {
		if _, ok := next[k]; !ok {
			out[k] = false
		}
	}
	return out
}

// diffFlags is diff over the served flags of two tables, looking only at the shards they do not share.
func diffFlags(prev, next *table[*Flag]) map[string]bool {
	out := map[string]bool{}
	changedShards(prev, next, func(pm, nm map[string]*Flag) {
		maps.Copy(out, diff(piecesOf(pm), piecesOf(nm)))
	})
	return out
}

func piecesOf(m map[string]*Flag) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, f := range m {
		if f.piece != nil {
			out[k] = f.piece
		}
	}
	return out
}

// split orders the changes: the pieces of those new or different, and the keys of those gone.
func split(changes map[string]bool, piece func(string) []byte) (upserted map[string][]byte, upKeys, deleted []string) {
	upserted = map[string][]byte{}
	for _, k := range sortedKeys(changes) {
		if changes[k] {
			upserted[k] = piece(k)
			upKeys = append(upKeys, k)
		} else {
			deleted = append(deleted, k)
		}
	}
	return upserted, upKeys, deleted
}

// PatchFrom is the SDK stream's "patch" event from prev to s (vane.Patch): the flags and segments
// that changed, in full, and the keys of those deleted, with previous_version = prev.Version so a
// client holding another version knows it missed one. From the snapshot s was derived from, it
// costs what changed; from an older one, a comparison of every piece. It is computed once per
// pair of snapshots, however many streams send it.
func (s *Snapshot) PatchFrom(prev *Snapshot) []byte {
	s.parts.mu.Lock()
	defer s.parts.mu.Unlock()
	if b, ok := s.parts.patches[prev.serial]; ok {
		return b
	}
	flagChanges, segChanges := s.parts.changedFlags, s.parts.changedSegments
	if s.parts.base == 0 || s.parts.base != prev.serial {
		flagChanges, segChanges = diffFlags(prev.flags, s.flags), diff(prev.parts.segments, s.parts.segments)
	}
	flags, flagKeys, goneFlags := split(flagChanges, func(k string) []byte { return s.Flag(k).piece })
	segs, segKeys, goneSegs := split(segChanges, func(k string) []byte { return s.parts.segments[k] })
	b := []byte(`{"schema_version":`)
	b = strconv.AppendInt(b, vane.SchemaVersion, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, s.Version, 10)
	b = append(b, `,"previous_version":`...)
	b = strconv.AppendInt(b, prev.Version, 10)
	b = append(b, `,"flags":`...)
	b = appendList(b, flags, flagKeys)
	b = append(b, `,"segments":`...)
	b = appendList(b, segs, segKeys)
	b = append(b, `,"deleted_flags":`...)
	b = appendKeys(b, goneFlags)
	b = append(b, `,"deleted_segments":`...)
	b = appendKeys(b, goneSegs)
	b = append(b, '}')
	if s.parts.patches == nil {
		s.parts.patches = map[uint64][]byte{}
	}
	if len(s.parts.patches) >= 4 { // a stream rarely lags more than a version or two behind
		clear(s.parts.patches)
	}
	s.parts.patches[prev.serial] = b // by snapshot, not version: two snapshots may share a version
	return b
}
