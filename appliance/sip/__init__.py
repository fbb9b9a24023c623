"""The SIP edge: Kamailio's config and process."""
