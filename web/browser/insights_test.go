package browser

import (
	"strconv"
	"testing"
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
