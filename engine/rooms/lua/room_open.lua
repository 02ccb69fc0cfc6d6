-- Make the room live (open_room, lib.lua). ARGV: owner, seat count.
return reply({ok = true, created = open_room(ARGV[1], ARGV[2])})
