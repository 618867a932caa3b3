"""Tools around the bot: the command line, the chat simulator and the fake WeCom / DingTalk servers."""
