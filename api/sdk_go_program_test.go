package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sdkProgram is an application of its own module that uses the Go SDK from this checkout: it
// reads contexts (one JSON object a line) and prints, for each, every flag's evaluation.
const sdkProgram = `package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	vane "github.com/vanehq/vane/sdk/go"
)

func main() {
	c, err := vane.NewClient(vane.Config{BaseURL: os.Args[1], SDKKey: os.Args[2], EventsInterval: -1})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		panic(err)
	}
	flags := c.Flags()
	sort.Strings(flags)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var evalCtx map[string]any
		if err := json.Unmarshal(in.Bytes(), &evalCtx); err != nil {
			panic(err)
		}
		res := map[string]vane.Detail{}
		for _, f := range flags {
			res[f] = c.Evaluate(f, evalCtx)
		}
		b, _ := json.Marshal(res)
		fmt.Fprintln(out, string(b))
	}
}
`

// TestGoSDKInAnotherModule builds a program in a module of its own that requires the SDK from the
// checkout (as a user's application would), runs it against a real server, and finds no
// difference from the server's own answers over 3 000 random contexts.
func TestGoSDKInAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	sdkDir, err := filepath.Abs(filepath.Join("..", "sdk", "go"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/app\n\ngo 1.23\n\nrequire github.com/vanehq/vane/sdk/go v0.0.0\n\nreplace github.com/vanehq/vane/sdk/go => " + sdkDir + "\n"
	for name, body := range map[string]string{"go.mod": gomod, "main.go": sdkProgram} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "app")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the program: %v\n%s", err, out)
	}

	s, _, srvKey, _ := sdkFixture(t)
	url := listen(t, s)
	r := rand.New(rand.NewPCG(3, 4))
	const n = 3000
	var input strings.Builder
	contexts := make([]map[string]any, n)
	for i := range contexts {
		contexts[i] = randomContext(r, i)
		b, _ := json.Marshal(contexts[i])
		input.Write(b)
		input.WriteByte('\n')
	}
	run := exec.Command(bin, url, srvKey)
	run.Stdin = strings.NewReader(input.String())
	out, err := run.Output()
	if err != nil {
		t.Fatalf("run the program: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	i, differ := 0, 0
	for ; sc.Scan(); i++ {
		var local map[string]struct {
			Value     any
			Variation string
			Reason    string
			ErrorCode string
		}
		if err := json.Unmarshal(sc.Bytes(), &local); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"context": contexts[i]})
		var bulk struct {
			Flags []struct {
				Key       string `json:"key"`
				Value     any    `json:"value"`
				Variant   string `json:"variant"`
				Reason    string `json:"reason"`
				ErrorCode string `json:"errorCode"`
			} `json:"flags"`
		}
		if err := json.Unmarshal(s.req("POST", "/ofrep/v1/evaluate/flags", string(body), "X-API-Key", srvKey).want(t, 200).Body, &bulk); err != nil {
			t.Fatal(err)
		}
		if len(bulk.Flags) != len(local) {
			t.Fatalf("context %d: the program evaluated %d flags, the server %d", i, len(local), len(bulk.Flags))
		}
		for _, f := range bulk.Flags {
			l := local[f.Key]
			same := l.ErrorCode == f.ErrorCode && (f.ErrorCode != "" && l.Reason == "ERROR" ||
				f.ErrorCode == "" && fmt.Sprint(l.Value) == fmt.Sprint(f.Value) && l.Variation == f.Variant && l.Reason == f.Reason)
			if !same {
				if differ++; differ < 5 {
					t.Errorf("%s for %v: program %+v, server %+v", f.Key, contexts[i], l, f)
				}
			}
		}
	}
	if i != n || differ > 0 {
		t.Fatalf("%d of %d contexts answered; %d evaluations differ", i, n, differ)
	}
}
