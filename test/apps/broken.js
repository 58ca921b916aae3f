// An app that throws while being imported: tsgi must exit 1 with this stack, not respawn it.
throw new Error('this app is broken on purpose');
