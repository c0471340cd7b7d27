package console

// opsNav is the navigation of an operations user.
var opsNav = []navItem{
	{ID: "home", Text: "Home", Href: "/ops/", Section: "home"},
}

// opsRoutes registers the operations pages.
func (s *Server) opsRoutes() {
	s.handle("GET /ops/{$}", RoleOps, func(c *Ctx) error {
		return c.Render("ops_home", "Operations", "home", nil)
	})
}
