package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Webhook task types.
const (
	TypeDeliverWebhook    = "webhooks:deliver"
	TypeDispatchWebhooks  = "webhooks:dispatch"
	webhookMaxRetry       = 8
	webhookMaxRetryDelay  = time.Hour
	webhookDeliverTimeout = 30 * time.Second
)

// DeliverWebhookPayload names the delivery to send.
type DeliverWebhookPayload struct {
	DeliveryID string `json:"delivery_id"`
}

// NewDeliverWebhookTask sends one delivery; its id is the delivery's (and, once it was redelivered
// by hand, the redelivery's number), so each sending is queued once. A failed delivery's own task
// stays archived under the old id; its redelivery is a new task.
func NewDeliverWebhookTask(deliveryID string, redeliveries int) (*asynq.Task, error) {
	b, err := json.Marshal(DeliverWebhookPayload{DeliveryID: deliveryID})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeDeliverWebhook, b, asynq.Queue(QueueDefault), asynq.TaskID(DeliverWebhookTaskID(deliveryID, redeliveries)),
		asynq.MaxRetry(webhookMaxRetry), asynq.Timeout(webhookDeliverTimeout)), nil
}

// DeliverWebhookTaskID is the task id of a delivery's first sending or of one of its redeliveries.
func DeliverWebhookTaskID(deliveryID string, redeliveries int) string {
	if redeliveries == 0 {
		return "webhook:" + deliveryID
	}
	return fmt.Sprintf("webhook:%s:redelivery-%d", deliveryID, redeliveries)
}

// NewDispatchWebhooksTask queues the pending deliveries (every 2 s).
func NewDispatchWebhooksTask() *asynq.Task {
	return asynq.NewTask(TypeDispatchWebhooks, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(0), asynq.Timeout(time.Minute))
}

// webhookRetryDelay doubles from base for each retry, up to an hour.
func webhookRetryDelay(base time.Duration, n int) time.Duration {
	d := base << min(n, 20)
	if d <= 0 || d > webhookMaxRetryDelay {
		return webhookMaxRetryDelay
	}
	return d
}

func (h *handlers) deliverWebhook(ctx context.Context, t *asynq.Task) error {
	var p DeliverWebhookPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeliveryID == "" {
		return fmt.Errorf("undecodable payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	retry, err := h.svc.Webhooks.Deliver(ctx, p.DeliveryID, retried >= maxRetry)
	if err != nil && !retry {
		return fmt.Errorf("deliver webhook %s: %v: %w", p.DeliveryID, err, asynq.SkipRetry)
	}
	return err
}

func (h *handlers) dispatchWebhooks(ctx context.Context, _ *asynq.Task) error {
	_, err := h.svc.Webhooks.Dispatch(ctx, func(id string, redeliveries int) error {
		task, err := NewDeliverWebhookTask(id, redeliveries)
		if err != nil {
			return err
		}
		if _, err := h.client.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return err
		}
		return nil
	})
	if err != nil {
		// Not a task failure: the task runs every 2 s anyway, and a failed periodic task keeps its
		// uniqueness lock while archived, which would hold the next runs back for a minute.
		h.log.Warn("webhook dispatch: deliveries stay pending until the next run", "err", err)
	}
	return nil
}
