"""Model card templates shipped with emo-pillars (packaged as ``emo_pillars.model_cards``)."""
