%% bench/erlang/bench.erl — the Erlang side of bench/actors.py, same workloads as the Lua
%% scripts: spawn N idle processes (time and memory), and ping-pong round trips between two
%% processes. Run: escript bench/erlang/bench.erl N ROUNDS
-module(bench).
-mode(compile).
-export([main/1]).

idle() -> receive stop -> ok end.

spawn_idle(N) ->
    erlang:garbage_collect(),
    M0 = erlang:memory(total),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    T1 = erlang:monotonic_time(microsecond),
    M1 = erlang:memory(total),
    io:format("erlang: spawned ~p idle processes in ~.1f ms (~.2f us/spawn), ~p bytes each~n",
              [N, (T1 - T0) / 1000, (T1 - T0) / N, (M1 - M0) div N]),
    [P ! stop || P <- Pids],
    ok.

pong() -> receive {ping, From, I} -> From ! {pong, I}, pong(); stop -> ok end.

ping(_, 0) -> ok;
ping(P, I) -> P ! {ping, self(), I}, receive {pong, I} -> ping(P, I - 1) end.

pingpong(Rounds) ->
    P = spawn(fun pong/0),
    T0 = erlang:monotonic_time(microsecond),
    ping(P, Rounds),
    T1 = erlang:monotonic_time(microsecond),
    P ! stop,
    io:format("erlang: ~p round trips in ~.3f s = ~w round trips/s~n",
              [Rounds, (T1 - T0) / 1.0e6, round(Rounds / ((T1 - T0) / 1.0e6))]).

main([NS, RS]) ->
    spawn_idle(list_to_integer(NS)),
    pingpong(list_to_integer(RS)).
