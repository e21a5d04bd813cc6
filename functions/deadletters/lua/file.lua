-- Files one dead letter from outside the worker (the API's Knative dead-letter sink,
-- functions/api/routes/event_dead_letters.py) with the worker's own filing (`dead_letter` in
-- _lib.lua): bounded by count and bytes, counted by function and reason, listed and shown like
-- every other entry. Filing the same id again replaces the entry (keeping when it first
-- failed), so a redelivered dead letter is one entry.
-- ARGV[1] prefix, ARGV[2] now, ARGV[3] queue, ARGV[4] id, ARGV[5] the entry's fields as a JSON
-- object (reason, function, error, ...), ARGV[6] the message, ARGV[7] most entries, ARGV[8] most
-- bytes, ARGV[9] record TTL. Returns the queue it was filed in.
local fields = cjson.decode(ARGV[5])
return dead_letter(ARGV[1], ARGV[1] .. ARGV[3], ARGV[6], ARGV[4], fields, ARGV[2], ARGV[7],
                   ARGV[8], ARGV[9])
