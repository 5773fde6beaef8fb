"""This host's network configuration as ``explain`` sees it: names, routes, interfaces, firewall."""
