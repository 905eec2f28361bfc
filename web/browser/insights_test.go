package browser

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/vanehq/vane/models"
)

// TestInsightsChart: a flag evaluated with the environment's SDK key shows those evaluations on its
// page once the server's batched flush (every 10 s) has recorded them: the total, the variation's
// count in the legend and in the table, and the last evaluation time.
func TestInsightsChart(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	s.newFlag(tm, "dark-mode", "Dark mode")
	s.activate("dark-mode", "production")
	const n = 7
	for i := 0; i < n; i++ {
		if code := s.call("POST", "/api/v1/feature-flags/dark-mode/evaluate", map[string]string{"user_id": "u" + strconv.Itoa(i)}, nil,
			"X-API-Key", tm.sdkServer); code != 200 {
			t.Fatalf("evaluate = %d", code)
		}
	}
	b := s.newBrowser(t)
	b.signIn("viewer@acme.test")
	b.open("/orgs/acme/projects/default/flags/dark-mode?env=production")
	b.waitText("Insights")
	// The page refetches every 10 s; the flush lands within 10 s of the evaluations.
	b.wait("the evaluations counted", `(document.querySelector('[data-testid="insights-total"]')||{}).innerText === '`+strconv.Itoa(n)+`'`)
	b.wait("the last evaluation shown", `(document.querySelector('[data-testid="last-evaluated"]')||{}).innerText.startsWith('Last evaluated')`)
	b.run("open the table", evaluate(`document.querySelector('details').open = true`, nil))
	b.wait("the table's row", `[...document.querySelectorAll('table[aria-label="Evaluations per hour"] tbody td')].some((td) => td.innerText === '`+strconv.Itoa(n)+`')`)
}

// TestInsightsRange: the range picker drives the insights endpoint: the last 24 hours, 7 days and
// 30 days (per day), and custom dates, each counting only the evaluations inside it.
func TestInsightsRange(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	s.newFlag(tm, "dark-mode", "Dark mode")
	var cfg models.FlagConfig
	if err := s.env.DB.Joins("JOIN flags ON flags.id = flag_configs.flag_id").Joins("JOIN environments ON environments.id = flag_configs.environment_id").
		Where("flags.key = ? AND environments.key = ? AND flag_configs.org_id = ?", "dark-mode", "production", tm.org.ID).Take(&cfg).Error; err != nil {
		t.Fatal(err)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	for _, r := range []struct {
		ago       time.Duration
		variation string
		n         int64
	}{{2 * time.Hour, "true", 3}, {3 * 24 * time.Hour, "true", 5}, {20 * 24 * time.Hour, "false", 11}, {60 * 24 * time.Hour, "true", 13}} {
		if err := models.AddInsights(s.env.DB, []models.FlagInsight{{ConfigID: cfg.ID, EnvironmentID: cfg.EnvironmentID, Variation: r.variation,
			Hour: hour.Add(-r.ago), Evaluations: r.n}}); err != nil {
			t.Fatal(err)
		}
	}
	b := s.newBrowser(t)
	b.signIn("viewer@acme.test")
	b.open("/orgs/acme/projects/default/flags/dark-mode?env=production")
	total := func(want string) {
		t.Helper()
		b.wait("total "+want, `(document.querySelector('[data-testid="insights-total"]')||{}).innerText === '`+want+`'`)
	}
	total("3")
	b.choose("Range", "7d")
	total("8")
	b.choose("Range", "30d")
	total("19")
	b.waitText("Evaluations in the last 30 days")
	b.run("open the table", evaluate(`document.querySelector('details').open = true`, nil))
	b.wait("a table per day", `!!document.querySelector('table[aria-label="Evaluations per day"]')`)
	// Custom dates: from 70 to 50 days ago holds the one old count.
	b.choose("Range", "custom")
	local := func(d time.Duration) string { return time.Now().Add(-d).Local().Format("2006-01-02T15:04") }
	setInput := func(label, value string) {
		b.run("set "+label, evaluate(fmt.Sprintf(`(function(){
  const el = document.querySelector(%q);
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, %q);
  el.dispatchEvent(new Event('input', {bubbles: true}));
})()`, b.field(label), value), nil))
	}
	setInput("From", local(70*24*time.Hour))
	setInput("To", local(50*24*time.Hour))
	total("13")
	// A window that ends before it starts is said, and nothing is asked for.
	setInput("From", local(40*24*time.Hour))
	b.waitText("must be before To")
}
