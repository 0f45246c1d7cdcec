# frozen_string_literal: true

# Background compaction for kvstore.
require "logger"
require_relative "segment"

module KVStore
  # Rewrites segments to drop dead records.
  class Compactor < BaseWorker
    include Enumerable

    DEFAULT_RATIO = 0.5
    attr_reader :stats

    # Creates a compactor for the segments in +dir+.
    def initialize(dir, ratio: DEFAULT_RATIO)
      super()
      @dir = dir
      @ratio = ratio
      @stats = Hash.new(0)
    end

    def self.run(dir) = new(dir).call

    # Compacts every segment worth it; returns the stats.
    def call
      segments.select { |s| worth?(s) }.each { |s| rewrite(s) }
      stats
    end

    private

    def worth?(segment)
      segment.dead_ratio >= @ratio
    end

    def rewrite(segment)
      Segment.open(segment.path).compact!
      @stats[:rewritten] += 1
    end
  end

  def self.logger
    @logger ||= Logger.new($stderr)
  end
end
