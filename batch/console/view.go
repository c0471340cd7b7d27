package console

import "strings"

// fieldView is what the "textInput" and "fieldError" templates are given.
type fieldView struct {
	ID, Label, Hint, Type, Autocomplete, Value string
	// Message is the field's error ("" when none).
	Message string
}

// DescribedBy is the input's aria-describedby: its hint and its error.
func (f fieldView) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Message != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// field makes a fieldView for the page v (which gives the error).
func field(v view, id, label, hint, typ, autocomplete, value string) fieldView {
	return fieldView{ID: id, Label: label, Hint: hint, Type: typ, Autocomplete: autocomplete, Value: value, Message: v.ErrorFor(id)}
}

// navItem is one item of the header's navigation.
type navItem struct {
	// ID makes the link's id "nav-<ID>"; Section marks it current.
	ID, Text, Href, Section string
	Current                 bool
}

// laNav is the navigation of an LA user.
var laNav = []navItem{
	{ID: "home", Text: "Home", Href: "/la/", Section: "home"},
	{ID: "check", Text: "Check a return", Href: "/la/check", Section: "check"},
	{ID: "send", Text: "Send a return", Href: "/la/send", Section: "send"},
	{ID: "returns", Text: "Returns", Href: "/la/returns", Section: "returns"},
	{ID: "collect", Text: "Collect files", Href: "/la/collect", Section: "collect"},
}

// navFor returns the navigation of u (none without a user), with the item
// of section marked current.
func navFor(u *User, section string) []navItem {
	if u == nil {
		return nil
	}
	items := laNav
	if u.Role == RoleOps {
		items = opsNav
	}
	out := make([]navItem, len(items))
	for i, it := range items {
		it.Current = it.Section != "" && it.Section == section
		out[i] = it
	}
	return out
}

// homeOf is a user's home page (templates).
func homeOf(u *User) string {
	if u == nil {
		return "/login"
	}
	return home(*u)
}
