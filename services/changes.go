package services

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/vanehq/vane/dataplane"
)

// changesChannel carries "orgID/projectID/published/node/what" after any write that changes what
// a project's environments serve or which SDK keys open them ("orgID/" for the whole
// organisation): published is the publication time in Unix nanoseconds, node the publisher (which
// ignores its own notices: it applied them already), what "config" when only flags and segments
// changed, "keys" when environments or SDK keys did too. Every node's data plane then brings that
// project up to date. Older nodes send "orgID/projectID/published" or "orgID/projectID", read as
// "keys".
func (s *Services) changesChannel() string { return s.cfg.RedisPrefix + "config-changed" }

// Kinds of change notice.
const (
	noticeConfig = "config"
	noticeKeys   = "keys"
)

// changed tells every node (this one included) that a project's flags or segments changed. It
// runs after the transaction commits; a lost notice is repaired by the data plane's version poll.
func (s *Services) changed(ctx context.Context, orgID, projectID string) {
	s.notify(ctx, orgID, projectID, noticeConfig)
}

// keysChanged tells every node that a project's environments or SDK keys changed (orgID alone:
// the organisation's), besides what they serve.
func (s *Services) keysChanged(ctx context.Context, orgID, projectID string) {
	s.notify(ctx, orgID, projectID, noticeKeys)
}

func (s *Services) notify(ctx context.Context, orgID, projectID, what string) {
	// This node at once, without waiting for Redis.
	s.Source.publish(dataplane.Change{OrgID: orgID, ProjectID: projectID, ConfigOnly: what == noticeConfig})
	// The publication time (this machine's clock) lets the receivers measure the notice's lag.
	payload := orgID + "/" + projectID + "/" + strconv.FormatInt(time.Now().UnixNano(), 10) + "/" + s.node + "/" + what
	if err := s.rdb.Publish(ctx, s.changesChannel(), payload).Err(); err != nil {
		s.log.WarnContext(ctx, "publish configuration change; other nodes will catch up by polling", "err", err)
	}
}

// notice is a change notice read from the channel.
type notice struct {
	change    dataplane.Change
	published time.Time // zero when not stamped
	node      string
}

func parseNotice(payload string) (notice, bool) {
	parts := strings.SplitN(payload, "/", 5)
	if len(parts) < 2 {
		return notice{}, false
	}
	n := notice{change: dataplane.Change{OrgID: parts[0], ProjectID: parts[1]}}
	if len(parts) > 2 {
		if ns, err := strconv.ParseInt(parts[2], 10, 64); err == nil {
			n.published = time.Unix(0, ns)
		}
	}
	if len(parts) == 5 {
		n.node = parts[3]
		n.change.ConfigOnly = parts[4] == noticeConfig
	}
	return n, true
}
