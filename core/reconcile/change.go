package reconcile

import (
	"fmt"
	"strings"
)

// String shows a change as "key: old -> new" for logs and tables.
func (c ConfigChange) String() string {
	show := func(v *string) string {
		if v == nil {
			return "(default)"
		}
		return *v
	}
	if c.Op == "delete" {
		return fmt.Sprintf("%s: %s -> (target default)", c.Key, show(c.Old))
	}
	return fmt.Sprintf("%s: %s -> %s", c.Key, show(c.Old), strings.TrimSpace(show(c.New)))
}
