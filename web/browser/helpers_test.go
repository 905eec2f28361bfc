// Package browser holds the portal's browser tests: real Chromium (Debian's chromium, headless)
// driven by chromedp through the labels a person reads, against the real router, services and
// database. They skip when no Chromium is installed, and fail instead with VANE_REQUIRE_BROWSER=1.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
	"github.com/vanehq/vane/web"
)

const password = "correct horse battery"

// site is the whole server with the embedded portal on a real port.
type site struct {
	t   *testing.T
	env *testenv.Env
	url string
}

func newSite(t *testing.T, mutate ...func(*config.Config)) *site {
	t.Helper()
	env := testenv.New(t, mutate...)
	enf, err := policies.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := api.NewRouter(api.Deps{Services: env.Svc, Plane: env.Plane, Enforcer: enf, Log: testenv.Logger(t), Clock: env.Clock, Portal: web.Dist()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &site{t: t, env: env, url: srv.URL}
}

// team is an organisation with an ADMIN, a DEVELOPER and a VIEWER (emails admin@…, dev@…, viewer@…).
type team struct {
	org       *models.Organization
	sdkServer string // the production server-side SDK key
}

func (s *site) newTeam(slug string) *team {
	s.t.Helper()
	ctx := context.Background()
	u, err := s.env.Svc.Auth.CreateUser(ctx, "admin@"+slug+".test", nil, "Ada Admin", password)
	if err != nil {
		s.t.Fatal(err)
	}
	org, err := s.env.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: u.Email}},
		services.OrgInput{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:]})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, m := range []struct{ email, role string }{{"dev@" + slug + ".test", models.RoleDeveloper}, {"viewer@" + slug + ".test", models.RoleViewer}} {
		_, token, err := s.env.Svc.Members.Invite(ctx, services.SystemScope(org.ID), m.email, m.role)
		if err != nil {
			s.t.Fatal(err)
		}
		if _, _, err := s.env.Svc.Auth.AcceptInvite(ctx, services.AcceptInviteInput{Token: token, Password: password}, ""); err != nil {
			s.t.Fatal(err)
		}
	}
	envr, err := s.env.Svc.Environments.Get(ctx, services.SystemScope(org.ID), "default", "production")
	if err != nil {
		s.t.Fatal(err)
	}
	tm := &team{org: org}
	for _, k := range envr.Keys {
		if k.Kind == models.SDKServer {
			tm.sdkServer = k.Key
		}
	}
	return tm
}

// newFlag creates a boolean flag (DRAFT everywhere) in the team's project default.
func (s *site) newFlag(tm *team, key, name string) {
	s.t.Helper()
	if _, err := s.env.Svc.Flags.Create(context.Background(), services.SystemScope(tm.org.ID), "default",
		services.FlagInput{Key: key, Name: name}); err != nil {
		s.t.Fatal(err)
	}
}

// activate moves a flag of acme's project default from DRAFT to ACTIVE in an environment, as its DEVELOPER.
func (s *site) activate(flag, env string) {
	s.t.Helper()
	path := "/api/v1/orgs/acme/projects/default/flags/" + flag + "/environments/" + env + "/activate"
	if code := s.call("POST", path, nil, nil, "Authorization", "Bearer "+s.token("dev@acme.test")); code != 200 {
		s.t.Fatalf("activate %s in %s = %d", flag, env, code)
	}
}

// call sends a JSON request to the API and decodes the answer into out (when not nil).
func (s *site) call(method, path string, body any, out any, headers ...string) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// token signs a user in through the API and returns the access token.
func (s *site) token(login string) string {
	s.t.Helper()
	var tok api.TokenResponse
	if code := s.call("POST", "/api/v1/auth/login", map[string]string{"username": login, "password": password}, &tok); code != 200 {
		s.t.Fatalf("login %s = %d", login, code)
	}
	return tok.AccessToken
}

// chromium is the browser binary, or "" when none is installed.
func chromium() string {
	if p := os.Getenv("VANE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab is one browser tab of a test, on its own browser (its own cookies).
type tab struct {
	t    *testing.T
	ctx  context.Context
	site *site
}

// newBrowser starts headless Chromium for the test, or skips it (fails with VANE_REQUIRE_BROWSER=1).
func (s *site) newBrowser(t *testing.T) *tab {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("VANE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found (apt-get install chromium) and VANE_REQUIRE_BROWSER=1")
		}
		t.Skip("no Chromium found (apt-get install chromium); set VANE_REQUIRE_BROWSER=1 to fail instead")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	tb := &tab{t: t, ctx: ctx, site: s}
	t.Cleanup(func() {
		if t.Failed() {
			tb.screenshot(filepath.Join(os.TempDir(), "vane-browser-failures"), t.Name())
		}
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tb
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// screenshot saves the whole page (or, for the README, the window) as dir/name.png.
func (b *tab) screenshot(dir, name string, window ...bool) {
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	shot := chromedp.FullScreenshot(&png, 100)
	if len(window) > 0 && window[0] {
		shot = chromedp.CaptureScreenshot(&png)
	}
	if err := chromedp.Run(ctx, page.BringToFront(), shot); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.MkdirAll(dir, 0o755)
	file := filepath.Join(dir, unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot: %s", file)
}

// readme saves a screenshot for the README when VANE_UPDATE_SCREENSHOTS=1: the top of the page, or
// the window from the heading with the text heading on.
func (b *tab) readme(name string, heading ...string) {
	if os.Getenv("VANE_UPDATE_SCREENSHOTS") == "1" {
		scroll := `window.scrollTo(0, 0)`
		if len(heading) > 0 {
			scroll = fmt.Sprintf(`[...document.querySelectorAll('h1,h2,h3,h4')].find(h => h.innerText.trim() === %q).scrollIntoView({block: 'start'}); window.scrollBy(0, -80)`, heading[0])
		}
		b.run("scroll for the screenshot", chromedp.Evaluate(scroll, nil))
		b.screenshot(filepath.Join("..", "screenshots"), name, true)
	}
}

// run runs the actions, each step given a minute at most.
func (b *tab) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	start := time.Now()
	// Background tabs get no animation frames: the acting tab comes to the front first.
	if err := chromedp.Run(ctx, append([]chromedp.Action{page.BringToFront()}, actions...)...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		b.t.Logf("%s took %v", what, d)
	}
}

// wait polls a JavaScript expression until it is truthy.
func (b *tab) wait(what, js string) {
	b.t.Helper()
	b.run("wait for "+what, chromedp.Poll(js, nil, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.site.url+path))
}

// waitText waits until the page shows the text.
func (b *tab) waitText(text string) {
	b.t.Helper()
	b.wait(fmt.Sprintf("text %q", text), fmt.Sprintf(`document.body && document.body.innerText.includes(%q)`, text))
}

// markJS marks the control a label names (its <label>, or its aria-label) with data-e2e.
const markJS = `(function(label){
  const norm = s => s.replace(/\s+/g, ' ').replace(/\s*\*$/, '').trim();
  for (const l of document.querySelectorAll('label')) {
    if (norm(l.textContent) !== label) continue;
    const el = l.htmlFor ? document.getElementById(l.htmlFor) : l.querySelector('input,select,textarea');
    if (el) { el.setAttribute('data-e2e', label); return true; }
  }
  for (const el of document.querySelectorAll('[aria-label]')) {
    if (el.getAttribute('aria-label') === label) { el.setAttribute('data-e2e', label); return true; }
  }
  return false;
})(%q)`

// field waits for the control labelled label and returns its selector.
func (b *tab) field(label string) string {
	b.t.Helper()
	b.wait("field "+label, fmt.Sprintf(markJS, label))
	return fmt.Sprintf("[data-e2e=%q]", label)
}

// fill replaces the text of the input labelled label, typing like a person. Keys go to the focused
// element (chromedp.KeyEvent): chromedp's SendKeys reads its node while DOM events update it (a data
// race under -race).
func (b *tab) fill(label, text string) {
	b.t.Helper()
	b.focus(label, true)
	b.run("fill "+label, chromedp.KeyEvent(typed(text)))
}

// focus focuses the control labelled label, its text selected when selectAll.
func (b *tab) focus(label string, selectAll bool) {
	b.t.Helper()
	js := fmt.Sprintf(`(function(){ const el = document.querySelector(%q); el.scrollIntoView({block: 'center'}); el.focus();
  if (%t && el.select) el.select(); })()`, b.field(label), selectAll)
	b.run("focus "+label, chromedp.Evaluate(js, nil))
}

// typeKeys types into the control labelled label after what it holds.
func (b *tab) typeKeys(label, keys string) {
	b.t.Helper()
	b.focus(label, false)
	b.run("type into "+label, chromedp.KeyEvent(keys))
}

// typed is what replaces a selected text: the new text typed over it, or Delete to empty it (typing
// over the selection never leaves the input empty on the way, which a number input would fill with 0).
func typed(text string) string {
	if text == "" {
		return kb.Delete
	}
	return text
}

// value is the current value of the input labelled label.
func (b *tab) value(label string) string {
	b.t.Helper()
	var v string
	b.run("read "+label, chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).value`, b.field(label)), &v))
	return v
}

// choose picks an option of the <select> labelled label, once the option is there (lists load
// after the page), and waits until the page holds the choice.
func (b *tab) choose(label, value string) {
	b.t.Helper()
	sel := b.field(label)
	b.wait(fmt.Sprintf("option %q of %s", value, label),
		fmt.Sprintf(`Array.from(document.querySelector(%q).options).some(o => o.value === %q)`, sel, value))
	b.run("choose "+label, chromedp.Evaluate(fmt.Sprintf(`(function(){
  const el = document.querySelector(%q);
  Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(el, %q);
  el.dispatchEvent(new Event('change', {bubbles: true}));
})()`, sel, value), nil))
	b.wait(fmt.Sprintf("%s = %q", label, value), fmt.Sprintf(`document.querySelector(%q).value === %q`, sel, value))
}

// buttonXPath finds a button, link or label by its visible text or its aria-label.
func buttonXPath(text string) string {
	return fmt.Sprintf(`//*[self::button or self::a or self::label][normalize-space(.)=%q or @aria-label=%q]`, text, text)
}

// click clicks the button, link or label with the visible text.
func (b *tab) click(text string) {
	b.t.Helper()
	b.clickXPath("click "+text, buttonXPath(text))
}

// clickXPath clicks the first visible element an XPath finds (scrolled into view, as a person would).
func (b *tab) clickXPath(what, xp string) {
	b.t.Helper()
	b.run(what, chromedp.WaitVisible(xp, chromedp.BySearch), chromedp.Evaluate(fmt.Sprintf(`(function(){
  const r = document.evaluate(%q, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
  for (let i = 0; i < r.snapshotLength; i++) {
    const el = r.snapshotItem(i);
    if (el.offsetParent !== null || el.getClientRects().length) { el.scrollIntoView({block: 'center'}); el.click(); return true; }
  }
  return false;
})()`, xp), nil))
}

// has reports whether a button or link with the visible text is on the page now.
func (b *tab) has(text string) bool {
	b.t.Helper()
	var n int
	b.run("look for "+text, chromedp.Evaluate(fmt.Sprintf(
		`document.evaluate(%q, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null).snapshotLength`, buttonXPath(text)), &n))
	return n > 0
}

// signIn signs in through the sign-in page and waits for the flags.
func (b *tab) signIn(login string) {
	b.t.Helper()
	b.open("/sign-in")
	b.fill("Username or email", login)
	b.fill("Password", password)
	b.click("Sign in")
	b.waitText("Feature Flags")
}

// evaluate runs JavaScript and stores its result.
func evaluate(js string, out any, opts ...chromedp.EvaluateOption) chromedp.Action {
	return chromedp.Evaluate(js, out, opts...)
}

// awaitPromise makes evaluate wait for a returned promise.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

func reload() chromedp.Action { return chromedp.Reload() }

// hasText reports whether the page shows the text now.
func (b *tab) hasText(text string) bool {
	b.t.Helper()
	var ok bool
	b.run("look for "+text, chromedp.Evaluate(fmt.Sprintf(`document.body.innerText.includes(%q)`, text), &ok))
	return ok
}
