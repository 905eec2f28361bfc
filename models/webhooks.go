package models

import "time"

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
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    *time.Time
}
