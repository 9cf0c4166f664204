"""The numbers and addresses of a run, in one place because several steps share them."""

#: Seconds any one server may take to start answering, and any one request to be answered.
START_SECONDS = 60
REQUEST_SECONDS = 30
#: The sign-in limit the instances are given: small, so that tripping it is quick.
RATE_LIMIT = 8
#: Gunicorn workers per instance: more than one, so that even one instance has several
#: processes whose memory counters would disagree.
WORKERS = 2
#: Step d: threads posting at once, and notes and contacts each thread posts.
THREADS = 12
NOTES_PER_THREAD = 3
CONTACTS_PER_THREAD = 1
#: Client source addresses (all loopback): the sign-in of steps b, d and e, the rate-limit
#: client of step c, and the other client that must not share its limit.
SIGN_IN_SOURCE = "127.0.0.3"
LIMITED_SOURCE = "127.0.0.1"
OTHER_SOURCE = "127.0.0.2"
FORGED_ADDRESS = "127.0.0.99"
