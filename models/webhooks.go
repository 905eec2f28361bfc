package models

import (
	"time"

	"gorm.io/gorm"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Webhook sends an organisation's events to a URL, signed with its secret.
type Webhook struct {
	ID        string `gorm:"primaryKey"`
	OrgID     string
	URL       string   `gorm:"column:url"`
	Events    []string `gorm:"serializer:json"`
	Secret    string
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// WebhookDelivery is one event to one webhook, and how sending it went.
type WebhookDelivery struct {
	ID             string `gorm:"primaryKey"`
	OrgID          string
	WebhookID      string
	Event          string
	Payload        string
	Status         string
	Attempts       int
	LastStatusCode int
	LastError      string
	LatencyMS      int `gorm:"column:latency_ms"`
	Queued         bool
	Redeliveries   int // how many times it was sent again by hand after it failed
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    *time.Time
}

// ListDeliveries lists a webhook's deliveries, newest first.
func ListDeliveries(db *gorm.DB, orgID, webhookID string, p Page) ([]WebhookDelivery, error) {
	var rows []WebhookDelivery
	err := p.apply(db.Where("org_id = ? AND webhook_id = ?", orgID, webhookID), "id", true).Find(&rows).Error
	return rows, Translate(err, "webhook deliveries")
}
