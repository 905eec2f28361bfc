package services

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Segments manages a project's reusable audiences.
type Segments struct{ s *Services }

// SegmentInput is a new segment.
type SegmentInput struct {
	Key         string
	Name        string
	Description string
	Conditions  []engine.Condition
	Included    []string
	Excluded    []string
}

// SegmentPatch changes a segment; nil fields stay. The key is immutable.
type SegmentPatch struct {
	Name        *string
	Description *string
	Conditions  *[]engine.Condition
	Included    *[]string
	Excluded    *[]string
}

func segmentView(s *models.Segment) map[string]any {
	return map[string]any{"id": s.ID, "key": s.Key, "name": s.Name, "description": s.Description,
		"conditions": s.Conditions, "included": s.Included, "excluded": s.Excluded, "version": s.Version}
}

// validate checks a segment against the project's others (references, cycles) in tx.
func (sg *Segments) validate(tx *gorm.DB, sc Scope, projectID string, seg *models.Segment) error {
	rows, err := models.SegmentsOfProject(tx, sc.OrgID, projectID)
	if err != nil {
		return err
	}
	all := engineSegments(rows)
	delete(all, seg.Key)
	return engine.ValidateSegment(engineSegment(seg), all)
}

// Create adds a segment to a project.
func (sg *Segments) Create(ctx context.Context, sc Scope, projectRef string, in SegmentInput) (*models.Segment, error) {
	if err := projectWide(sc, "create a segment"); err != nil {
		return nil, err
	}
	var v errs.Validation
	validateKeyAndName(&v, "", &in.Key, &in.Name)
	if len(in.Description) > 2000 {
		v.Add("description", "must be at most 2000 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := sg.s.now()
	seg := &models.Segment{ID: models.NewID(), OrgID: sc.OrgID, Key: in.Key, Name: in.Name, Description: in.Description,
		Conditions: nonNil(in.Conditions), Included: nonNil(in.Included), Excluded: nonNil(in.Excluded),
		CreatedAt: now, UpdatedAt: now, Version: 1}
	err := sg.s.tx(ctx, func(tx *gorm.DB) error {
		p, err := sg.s.Projects.resolve(tx, sc, projectRef)
		if err != nil {
			return err
		}
		if err := models.LockProject(tx, sc.OrgID, p.ID); err != nil {
			return err
		}
		seg.ProjectID = p.ID
		if err := sg.validate(tx, sc, p.ID, seg); err != nil {
			return err
		}
		if err := models.Create(tx, fmt.Sprintf("segment %q in project %q", seg.Key, p.Key), seg); err != nil {
			return err
		}
		if err := models.BumpConfigVersion(tx, sc.OrgID, p.ID, models.ConfigChange{Segments: []string{seg.Key}}, now); err != nil {
			return err
		}
		return sg.s.audit(tx, sc, "segment.created", "segment", seg.ID, p.Key+"/"+seg.Key, nil, segmentView(seg))
	})
	if err != nil {
		return nil, err
	}
	sg.s.changed(ctx, sc.OrgID, seg.ProjectID)
	return seg, nil
}

func (sg *Segments) resolve(db *gorm.DB, sc Scope, projectRef, ref string) (*models.Project, *models.Segment, error) {
	p, err := sg.s.Projects.resolve(db, sc, projectRef)
	if err != nil {
		return nil, nil, err
	}
	seg, err := models.SegmentByRef(db, sc.OrgID, p.ID, ref)
	return p, seg, err
}

// lockedResolve resolves a segment for a change, after taking its project's lock: a segment's
// checks (is it used? do the segments it refers to exist?) and the rules of flag configurations,
// checked against the segments under the same lock, cannot both pass on a state the other is
// changing (a segment deleted while a rule that uses it is saved).
func (sg *Segments) lockedResolve(tx *gorm.DB, sc Scope, projectRef, ref string) (*models.Project, *models.Segment, error) {
	p, err := sg.s.Projects.resolve(tx, sc, projectRef)
	if err != nil {
		return nil, nil, err
	}
	if err := models.LockProject(tx, sc.OrgID, p.ID); err != nil {
		return nil, nil, err
	}
	seg, err := models.SegmentByRef(tx, sc.OrgID, p.ID, ref)
	return p, seg, err
}

// Get returns a segment.
func (sg *Segments) Get(ctx context.Context, sc Scope, projectRef, ref string) (*models.Segment, error) {
	_, seg, err := sg.resolve(sg.s.db.WithContext(ctx), sc, projectRef, ref)
	return seg, err
}

// List returns a project's segments.
func (sg *Segments) List(ctx context.Context, sc Scope, projectRef string, opt ListOptions) (Page[models.Segment], error) {
	pg, err := opt.page(false)
	if err != nil {
		return Page[models.Segment]{}, err
	}
	db := sg.s.db.WithContext(ctx)
	p, err := sg.s.Projects.resolve(db, sc, projectRef)
	if err != nil {
		return Page[models.Segment]{}, err
	}
	rows, err := models.ListSegments(db, sc.OrgID, p.ID, pg)
	if err != nil {
		return Page[models.Segment]{}, err
	}
	return paged(rows, pg.Limit, func(s models.Segment) string { return s.ID }), nil
}

// Update changes a segment; every flag using it is re-evaluated (its environments' snapshots rebuilt).
func (sg *Segments) Update(ctx context.Context, sc Scope, projectRef, ref string, patch SegmentPatch, ifMatch int64) (*models.Segment, error) {
	if err := projectWide(sc, "change a segment"); err != nil {
		return nil, err
	}
	var v errs.Validation
	fields := nameAndDescription(&v, patch.Name, patch.Description)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *models.Segment
	err := sg.s.tx(ctx, func(tx *gorm.DB) error {
		p, before, err := sg.lockedResolve(tx, sc, projectRef, ref)
		if err != nil {
			return err
		}
		after := *before
		if patch.Name != nil {
			after.Name = fields["name"].(string)
		}
		if patch.Description != nil {
			after.Description = *patch.Description
		}
		if patch.Conditions != nil {
			after.Conditions = nonNil(*patch.Conditions)
			fields["conditions"] = jsonText(after.Conditions)
		}
		if patch.Included != nil {
			after.Included = nonNil(*patch.Included)
			fields["included"] = jsonText(after.Included)
		}
		if patch.Excluded != nil {
			after.Excluded = nonNil(*patch.Excluded)
			fields["excluded"] = jsonText(after.Excluded)
		}
		if err := sg.validate(tx, sc, p.ID, &after); err != nil {
			return err
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "segments", What: "segment", OrgID: sc.OrgID,
			ID: before.ID, Expect: ifMatch, Current: before.Version}, sg.s.now(), fields); err != nil {
			return err
		}
		if out, err = models.SegmentByRef(tx, sc.OrgID, p.ID, before.ID); err != nil {
			return err
		}
		if err := models.BumpConfigVersion(tx, sc.OrgID, p.ID, models.ConfigChange{Segments: []string{out.Key}}, sg.s.now()); err != nil {
			return err
		}
		return sg.s.audit(tx, sc, "segment.updated", "segment", out.ID, p.Key+"/"+out.Key, segmentView(before), segmentView(out))
	})
	if err != nil {
		return nil, err
	}
	sg.s.changed(ctx, sc.OrgID, out.ProjectID)
	return out, nil
}

// referencesSegment reports whether conditions use the segment key.
func referencesSegment(conds []engine.Condition, key string) bool {
	return slices.ContainsFunc(conds, func(c engine.Condition) bool { return c.Segment == key || c.NotSegment == key })
}

// Delete removes a segment no rule or segment uses; otherwise 409 names who uses it.
func (sg *Segments) Delete(ctx context.Context, sc Scope, projectRef, ref string) error {
	if err := projectWide(sc, "delete a segment"); err != nil {
		return err
	}
	var projectID string
	err := sg.s.tx(ctx, func(tx *gorm.DB) error {
		p, seg, err := sg.lockedResolve(tx, sc, projectRef, ref)
		if err != nil {
			return err
		}
		projectID = p.ID
		var users []string
		var configs []struct {
			FlagKey string
			EnvKey  string
			models.FlagConfig
		}
		if err := tx.Table("flag_configs").Select("flag_configs.*, flags.key AS flag_key, environments.key AS env_key").
			Joins("JOIN flags ON flags.id = flag_configs.flag_id").
			Joins("JOIN environments ON environments.id = flag_configs.environment_id").
			Where("flag_configs.org_id = ? AND flag_configs.project_id = ?", sc.OrgID, p.ID).
			Where("flag_configs.rules LIKE ?", "%"+seg.Key+"%").Find(&configs).Error; err != nil {
			return models.Translate(err, "flag configurations")
		}
		for _, c := range configs {
			for _, r := range c.Rules {
				if referencesSegment(r.Conditions, seg.Key) {
					users = append(users, "flag "+c.FlagKey+" in "+c.EnvKey)
					break
				}
			}
		}
		others, err := models.SegmentsOfProject(tx, sc.OrgID, p.ID)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.Key != seg.Key && referencesSegment(o.Conditions, seg.Key) {
				users = append(users, "segment "+o.Key)
			}
		}
		if len(users) > 0 {
			slices.Sort(users)
			return &errs.Error{Kind: errs.Conflict, Message: fmt.Sprintf("segment %q is still used by: %s", seg.Key, strings.Join(users, ", ")),
				Meta: map[string]any{"used_by": users}}
		}
		if err := tx.Where("org_id = ? AND id = ?", sc.OrgID, seg.ID).Delete(&models.Segment{}).Error; err != nil {
			return models.Translate(err, "segment")
		}
		if err := models.BumpConfigVersion(tx, sc.OrgID, p.ID, models.ConfigChange{Segments: []string{seg.Key}}, sg.s.now()); err != nil {
			return err
		}
		return sg.s.audit(tx, sc, "segment.deleted", "segment", seg.ID, p.Key+"/"+seg.Key, segmentView(seg), nil)
	})
	if err != nil {
		return err
	}
	sg.s.changed(ctx, sc.OrgID, projectID)
	return nil
}
