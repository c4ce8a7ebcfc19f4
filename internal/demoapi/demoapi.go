// Package demoapi is a small procurement API (suppliers, purchase orders,
// invoices) kept in memory, which `keyshift serve --demo` runs behind the
// gateway so a newcomer can see the whole path: a key that works with
// deprecation headers, a token that works, a token lacking a scope (403),
// and a key refused after the sunset.
//
// The API trusts the gateway: it reads the tenant from X-Keyshift-Tenant
// and answers 401 without it. It must only be reachable through the
// gateway.
package demoapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RoutesYAML is the gateway routes file for the demo API (upstream is set
// by the caller); scopes and permissions are those of the demo catalogue.
const RoutesYAML = `routes:
  - {method: GET,   path: "/api/whoami"}
  - {method: GET,   path: "/api/suppliers",                 scopes: [core.supplier.read],       permissions: ["suppliers:read"]}
  - {method: GET,   path: "/api/suppliers/{id}",            scopes: [core.supplier.read],       permissions: ["suppliers:read"]}
  - {method: GET,   path: "/api/purchase_orders",           scopes: [core.purchase_order.read], permissions: ["purchase_orders:read"]}
  - {method: GET,   path: "/api/purchase_orders/{id}",      scopes: [core.purchase_order.read], permissions: ["purchase_orders:read"]}
  - {method: POST,  path: "/api/purchase_orders",           scopes: [core.purchase_order.write], permissions: ["purchase_orders:create"]}
  - {method: GET,   path: "/api/invoices",                  scopes: [core.invoice.read],        permissions: ["invoices:read"]}
  - {method: GET,   path: "/api/invoices/{id}",             scopes: [core.invoice.read],        permissions: ["invoices:read"]}
  - {method: POST,  path: "/api/invoices",                  scopes: [core.invoice.write],       permissions: ["invoices:create"]}
  - {method: PATCH, path: "/api/invoices/{id}",             scopes: [core.invoice.write],       permissions: ["invoices:update"]}
`

// Supplier is a company the tenant buys from.
type Supplier struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	Country string `json:"country"`
	Status  string `json:"status"`
}

// PurchaseOrder is an order placed with a supplier.
type PurchaseOrder struct {
	ID         int       `json:"id"`
	Number     string    `json:"po_number"`
	SupplierID int       `json:"supplier_id"`
	Total      string    `json:"total"`
	Currency   string    `json:"currency"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
}

// Invoice is a supplier's bill for a purchase order.
type Invoice struct {
	ID              int       `json:"id"`
	Number          string    `json:"invoice_number"`
	SupplierID      int       `json:"supplier_id"`
	PurchaseOrderID int       `json:"purchase_order_id,omitempty"`
	Total           string    `json:"total"`
	Currency        string    `json:"currency"`
	Status          string    `json:"status"`
	CreatedAt       time.Time `json:"created_at"`
}

// API is the in-memory procurement API. Data is per tenant; tenant "acme"
// (the demo tenant) starts with sample records.
type API struct {
	now func() time.Time
	mux *http.ServeMux
	mu  sync.Mutex
	ten map[string]*data
}

type data struct {
	suppliers []Supplier
	orders    []PurchaseOrder
	invoices  []Invoice
}

// Handler returns the demo API with the real clock.
func Handler() http.Handler { return New(time.Now) }

// New returns the demo API with a clock.
func New(now func() time.Time) *API {
	a := &API{now: now, mux: http.NewServeMux(), ten: map[string]*data{"acme": seed(now())}}
	a.routes()
	return a
}

func seed(now time.Time) *data {
	day := now.UTC().Truncate(24 * time.Hour)
	return &data{
		suppliers: []Supplier{
			{1, "Northwind Paper Co.", "US", "active"},
			{2, "Contoso Office Supplies", "GB", "active"},
			{3, "Fabrikam Logistics", "DE", "on_hold"},
		},
		orders: []PurchaseOrder{
			{1, "PO-1001", 1, "1250.00", "USD", "issued", day.AddDate(0, 0, -20)},
			{2, "PO-1002", 2, "310.40", "GBP", "received", day.AddDate(0, 0, -12)},
			{3, "PO-1003", 3, "9800.00", "EUR", "draft", day.AddDate(0, 0, -2)},
		},
		invoices: []Invoice{
			{1, "INV-5001", 1, 1, "1250.00", "USD", "approved", day.AddDate(0, 0, -15)},
			{2, "INV-5002", 2, 2, "310.40", "GBP", "pending_approval", day.AddDate(0, 0, -5)},
		},
	}
}

// ServeHTTP routes the demo API's requests.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant := r.Header.Get("X-Keyshift-Tenant")
	if tenant == "" {
		problem(w, http.StatusUnauthorized, "No tenant: call this API through the keyshift gateway.")
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) routes() {
	mux := a.mux
	mux.HandleFunc("GET /api/whoami", a.whoami)
	mux.HandleFunc("GET /api/suppliers", list(a, func(d *data) any { return d.suppliers }))
	mux.HandleFunc("GET /api/suppliers/{id}", get(a, func(d *data, id int) any { return find(d.suppliers, func(s Supplier) bool { return s.ID == id }) }))
	mux.HandleFunc("GET /api/purchase_orders", list(a, func(d *data) any { return d.orders }))
	mux.HandleFunc("GET /api/purchase_orders/{id}", get(a, func(d *data, id int) any { return find(d.orders, func(o PurchaseOrder) bool { return o.ID == id }) }))
	mux.HandleFunc("GET /api/invoices", list(a, func(d *data) any { return d.invoices }))
	mux.HandleFunc("GET /api/invoices/{id}", get(a, func(d *data, id int) any { return find(d.invoices, func(i Invoice) bool { return i.ID == id }) }))
	mux.HandleFunc("POST /api/purchase_orders", a.createOrder)
	mux.HandleFunc("POST /api/invoices", a.createInvoice)
	mux.HandleFunc("PATCH /api/invoices/{id}", a.updateInvoice)
}

func (a *API) tenant(r *http.Request) *data {
	t := r.Header.Get("X-Keyshift-Tenant")
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.ten[t]
	if d == nil {
		d = &data{}
		a.ten[t] = d
	}
	return d
}

// whoami shows what the gateway told the API about the caller.
func (a *API) whoami(w http.ResponseWriter, r *http.Request) {
	out := map[string]string{}
	for name, v := range r.Header {
		if strings.HasPrefix(name, "X-Keyshift-") {
			out[strings.ToLower(strings.TrimPrefix(name, "X-Keyshift-"))] = v[0]
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func list(a *API, items func(*data) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := a.tenant(r)
		a.mu.Lock()
		body, err := json.Marshal(map[string]any{"data": items(d)})
		a.mu.Unlock()
		writeRaw(w, body, err)
	}
}

func get(a *API, item func(*data, int) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			problem(w, http.StatusNotFound, "No such record.")
			return
		}
		d := a.tenant(r)
		a.mu.Lock()
		v := item(d, id)
		body, err := json.Marshal(v)
		a.mu.Unlock()
		if string(body) == "null" {
			problem(w, http.StatusNotFound, "No such record.")
			return
		}
		writeRaw(w, body, err)
	}
}

func find[T any](s []T, match func(T) bool) *T {
	if i := slices.IndexFunc(s, match); i >= 0 {
		v := s[i]
		return &v
	}
	return nil
}

// invoiceInput is the body of a create or an update.
type invoiceInput struct {
	Number          *string `json:"invoice_number"`
	SupplierID      *int    `json:"supplier_id"`
	PurchaseOrderID *int    `json:"purchase_order_id"`
	Total           *string `json:"total"`
	Currency        *string `json:"currency"`
	Status          *string `json:"status"`
}

func decode(w http.ResponseWriter, r *http.Request) (invoiceInput, bool) {
	var in invoiceInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "The body is not a valid invoice: "+err.Error())
		return in, false
	}
	return in, true
}

func (a *API) createInvoice(w http.ResponseWriter, r *http.Request) {
	in, ok := decode(w, r)
	if !ok {
		return
	}
	if in.Number == nil || in.SupplierID == nil || in.Total == nil {
		problem(w, http.StatusUnprocessableEntity, "invoice_number, supplier_id and total are required.")
		return
	}
	d := a.tenant(r)
	a.mu.Lock()
	inv := Invoice{ID: len(d.invoices) + 1, Status: "pending_approval", Currency: "USD", CreatedAt: a.now().UTC()}
	apply(&inv, in)
	d.invoices = append(d.invoices, inv)
	a.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("/api/invoices/%d", inv.ID))
	writeJSON(w, http.StatusCreated, inv)
}

// orderInput is the body of a purchase order creation.
type orderInput struct {
	SupplierID int    `json:"supplier_id"`
	Total      string `json:"total"`
	Currency   string `json:"currency"`
}

func (a *API) createOrder(w http.ResponseWriter, r *http.Request) {
	var in orderInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.SupplierID == 0 || in.Total == "" {
		problem(w, http.StatusUnprocessableEntity, "supplier_id and total are required.")
		return
	}
	d := a.tenant(r)
	a.mu.Lock()
	po := PurchaseOrder{ID: len(d.orders) + 1, SupplierID: in.SupplierID, Total: in.Total,
		Currency: cmpOr(in.Currency, "USD"), Status: "draft", CreatedAt: a.now().UTC()}
	po.Number = fmt.Sprintf("PO-%d", 1000+po.ID)
	d.orders = append(d.orders, po)
	a.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("/api/purchase_orders/%d", po.ID))
	writeJSON(w, http.StatusCreated, po)
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (a *API) updateInvoice(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	in, ok := decode(w, r)
	if !ok {
		return
	}
	d := a.tenant(r)
	a.mu.Lock()
	i := slices.IndexFunc(d.invoices, func(v Invoice) bool { return v.ID == id })
	var inv Invoice
	if i >= 0 {
		apply(&d.invoices[i], in)
		inv = d.invoices[i]
	}
	a.mu.Unlock()
	if i < 0 {
		problem(w, http.StatusNotFound, "No such record.")
		return
	}
	writeJSON(w, http.StatusOK, inv)
}

func apply(inv *Invoice, in invoiceInput) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&inv.Number, in.Number)
	set(&inv.Total, in.Total)
	set(&inv.Currency, in.Currency)
	set(&inv.Status, in.Status)
	if in.SupplierID != nil {
		inv.SupplierID = *in.SupplierID
	}
	if in.PurchaseOrderID != nil {
		inv.PurchaseOrderID = *in.PurchaseOrderID
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		problem(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func writeRaw(w http.ResponseWriter, body []byte, err error) {
	if err != nil {
		problem(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

func problem(w http.ResponseWriter, status int, detail string) {
	body, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
