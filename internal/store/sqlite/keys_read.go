package sqlite

import (
	"database/sql"
	"strings"
	"time"
)

// nullTime stores a nil time pointer as NULL.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// timePtr decodes a nullable time column.
func (d *decoder) timePtr(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := d.time(s.String)
	return &t
}

// where builds a conjunction of optional conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(ok bool, cond string, arg any) {
	if ok {
		w.conds = append(w.conds, cond)
		w.args = append(w.args, arg)
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
