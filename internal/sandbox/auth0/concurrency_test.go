package auth0

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentClients runs readers, importers, exporters and role writers at once (run
// with -race): every request must answer sensibly and the store must end consistent.
func TestConcurrentClients(t *testing.T) {
	tn := newTenant(t, Config{Users: 500, Seed: 12, ImportDelay: time.Millisecond, ExportDelay: time.Millisecond})
	ids := userIDs(t, tn.srv.Users())
	var role roleJSON
	tn.postJSON("/api/v2/roles", map[string]string{"name": "crowd"}).json(t, &role)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	run := func(f func(k int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				if err := f(k); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for w := 0; w < 3; w++ {
		run(func(k int) error {
			if r := tn.get("/api/v2/users" + q("page", fmt.Sprint(k%5), "per_page", "50", "q", "email:*example*")); r.status != 200 {
				return fmt.Errorf("list: %d %s", r.status, r.body)
			}
			return nil
		})
	}
	imported := make([]int, 2)
	for w := 0; w < 2; w++ {
		w := w
		run(func(k int) error {
			file := mustJSON(t, []map[string]any{{"email": fmt.Sprintf("c%d-%d@example.com", w, k)}})
			r := tn.startImport(file, nil)
			if r.status == 202 {
				imported[w]++
			} else if r.status != 429 {
				return fmt.Errorf("import: %d %s", r.status, r.body)
			}
			tn.clock.Advance(time.Millisecond)
			return nil
		})
	}
	run(func(k int) error {
		if r := tn.postJSON("/api/v2/jobs/users-exports", map[string]any{"limit": 10}); r.status != 201 {
			return fmt.Errorf("export: %d %s", r.status, r.body)
		}
		return nil
	})
	run(func(k int) error {
		if r := tn.postJSON("/api/v2/roles/"+role.ID+"/users", map[string]any{"users": ids[k*10 : k*10+10]}); r.status != 200 {
			return fmt.Errorf("assign: %d %s", r.status, r.body)
		}
		return nil
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tn.clock.Advance(time.Second)
	if got, want := tn.srv.Count(), 500+imported[0]+imported[1]; got != want {
		t.Fatalf("count %d, want %d", got, want)
	}
}
