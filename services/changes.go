package services

import (
	"context"
	"strconv"
	"time"

	"github.com/vanehq/vane/dataplane"
)

// changesChannel carries "orgID/projectID/published-unix-nanoseconds" after any write that changes what a project's
// environments serve or which SDK keys open them ("orgID/" for the whole organisation); every
// node's data plane reloads that project.
func (s *Services) changesChannel() string { return s.cfg.RedisPrefix + "config-changed" }

// changed tells every node (this one included) that a project's configuration changed. It runs
// after the transaction commits; a lost notice is repaired by the data plane's version poll.
func (s *Services) changed(ctx context.Context, orgID, projectID string) {
	s.Source.publish(dataplane.Change{OrgID: orgID, ProjectID: projectID}) // this node at once, without waiting for Redis
	// The publication time (this machine's clock) lets the receivers measure the notice's lag.
	payload := orgID + "/" + projectID + "/" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := s.rdb.Publish(ctx, s.changesChannel(), payload).Err(); err != nil {
		s.log.WarnContext(ctx, "publish configuration change; other nodes will catch up by polling", "err", err)
	}
}
