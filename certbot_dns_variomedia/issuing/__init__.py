"""The parts of an ACME order that `issue.obtain_certificate` puts together: keys and names,
the conversation with the CA, the dns-persist-01 challenge type, and the authorizations."""
