"""Rendering: a contact's notice made into what is sent (email text and HTML, the MIME message,
the PDF letter, the referral package)."""
