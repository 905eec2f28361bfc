package services

import "context"

// changesChannel carries "orgID/projectID" after any write that changes what a project's
// environments serve; every node rebuilds its snapshots of that project's environments.
func (s *Services) changesChannel() string { return s.cfg.RedisPrefix + "config-changed" }

// changed tells every node (this one included) that a project's configuration changed. It runs
// after the transaction commits; a lost notice is repaired by the snapshot store's version poll.
func (s *Services) changed(ctx context.Context, orgID, projectID string) {
	if s.Snapshots != nil {
		s.Snapshots.invalidateProject(projectID) // this node at once, without waiting for Redis
	}
	if err := s.rdb.Publish(ctx, s.changesChannel(), orgID+"/"+projectID).Err(); err != nil {
		s.log.Warn("publish configuration change; other nodes will catch up by polling", "err", err)
	}
}
