package fetch

// Pace is the current pace of an endpoint's pacer in calls/s, for tests.
func (c *Client) Pace(endpoint string) float64 {
	switch endpoint {
	case EndpointList:
		return c.list.pacer.pace()
	case EndpointDetail:
		return c.detail.pacer.pace()
	}
	return c.token.pacer.pace()
}
